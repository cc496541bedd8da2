// Reads the runtime stage of our Dockerfile, so tests follow what the image does instead of
// repeating it: its user, working directory, environment, volumes, the directories it creates and
// whom it gives them to, and its entrypoint, command and health check.
import { readFileSync } from 'node:fs';

export interface RuntimeStage {
  base: string;
  user: string;
  workdir: string;
  env: Record<string, string>;
  volumes: string[];
  /** Directories made with `mkdir` in a RUN line. */
  created: string[];
  /** Directory → owner (`user[:group]`) from `chown` in a RUN line. */
  owned: Record<string, string>;
  /** `COPY <src…> <dest>` (not --from), dest relative to WORKDIR when not absolute. */
  copies: { sources: string[]; dest: string }[];
  entrypoint: string[];
  cmd: string[];
  /** The HEALTHCHECK command (exec form). */
  healthcheck: string[];
  exposed: number[];
}

/** Instructions of a Dockerfile with continuation lines joined and comments dropped. */
export function instructions(text: string): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = pending + line;
    pending = '';
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    if (m) out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return out;
}

const execForm = (s: string): string[] => {
  const j = s.slice(s.indexOf('['));
  return JSON.parse(j) as string[];
};

export function runtimeStage(path = 'Dockerfile'): RuntimeStage {
  const all = instructions(readFileSync(path, 'utf8'));
  const start = all.map((i) => i.op).lastIndexOf('FROM');
  const stage: RuntimeStage = {
    base: all[start]!.args.split(/\s+/)[0]!,
    user: 'root',
    workdir: '/',
    env: {},
    volumes: [],
    created: [],
    owned: {},
    copies: [],
    entrypoint: [],
    cmd: [],
    healthcheck: [],
    exposed: [],
  };
  for (const { op, args } of all.slice(start + 1)) {
    if (op === 'USER') stage.user = args;
    else if (op === 'WORKDIR') stage.workdir = args.startsWith('/') ? args : `${stage.workdir}/${args}`;
    else if (op === 'ENV') {
      const m = /^(\S+?)[= ](.*)$/.exec(args);
      if (m) stage.env[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
    } else if (op === 'VOLUME') stage.volumes.push(...(args.startsWith('[') ? execForm(args) : args.split(/\s+/)));
    else if (op === 'EXPOSE') stage.exposed.push(...args.split(/\s+/).map((p) => Number.parseInt(p, 10)));
    else if (op === 'ENTRYPOINT') stage.entrypoint = execForm(args);
    else if (op === 'CMD') stage.cmd = execForm(args);
    else if (op === 'HEALTHCHECK') stage.healthcheck = execForm(args.slice(args.indexOf('CMD') + 3));
    else if (op === 'COPY' && !args.startsWith('--from')) {
      const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const dest = words.pop()!;
      stage.copies.push({ sources: words, dest: dest.startsWith('/') ? dest : `${stage.workdir}/${dest}` });
    } else if (op === 'RUN') {
      for (const cmd of args.split(/&&|;/).map((c) => c.trim().split(/\s+/))) {
        if (cmd[0] === 'mkdir') stage.created.push(...cmd.slice(1).filter((w) => !w.startsWith('-')));
        if (cmd[0] === 'chown') {
          const [owner, ...dirs] = cmd.slice(1).filter((w) => !w.startsWith('-'));
          for (const d of dirs) stage.owned[d] = owner!;
        }
      }
    }
  }
  return stage;
}
