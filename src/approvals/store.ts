// Pending approvals and their decisions: what the admin page lists and where a decision is made.
// A decision is made once (the first of approve/deny/timeout/withdraw/void wins, on any instance)
// and reaches the instance holding the call through `watch`.
import type { AuditJson } from '../audit/record.js';
import type { Rate } from '../config/runtime-units.js';
import { memoryRequestRate, type RequestAdmission } from './request-rate.js';
import { DecisionWatchers } from './watchers.js';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'timed_out' | 'withdrawn' | 'void';

export interface Approval {
  id: string;
  agent: string;
  /** Namespaced tool name, its server and its description (as the upstream lists it). */
  tool: string;
  server: string;
  description: string | null;
  /** Arguments as the audit shows them (redacted) and the SHA-256 of the arguments as sent. */
  args: AuditJson;
  sha256: string;
  rule: string;
  message: string | null;
  approvers: readonly string[];
  /** The gateway instance holding the call. */
  holder: string;
  requestedAt: number;
  expiresAt: number;
  status: ApprovalStatus;
  decidedBy?: string;
  /**
   * A signed-in user's groups when they decided: the holder checks them against the rule as it is
   * when the call goes on (a reload may have changed who may decide). Not listed on the admin side.
   */
  decidedByGroups?: readonly string[];
  reason?: string;
  decidedAt?: number;
}

export interface Decision {
  status: Exclude<ApprovalStatus, 'pending'>;
  by: string;
  /** A signed-in user's groups (see Approval.decidedByGroups). */
  groups?: readonly string[];
  reason?: string;
}

export interface ApprovalStore {
  readonly kind: 'memory' | 'redis';
  add(a: Approval): Promise<void>;
  get(id: string): Promise<Approval | undefined>;
  /** Pending ones and the most recent decided ones, newest first. */
  list(): Promise<Approval[]>;
  /**
   * Decides a pending approval. Returns it as decided, or as it already was (not pending any more:
   * another decision won), or undefined when there is no such approval.
   */
  decide(id: string, d: Decision, at: number): Promise<Approval | undefined>;
  /**
   * Makes a single-use token (a 2026 approval state's nonce) good until `untilMs` for every instance
   * sharing the store. The store holds it only while it can be used: `spend` removes it.
   */
  issue(nonce: string, untilMs: number): Promise<void>;
  /**
   * Spends an issued token: true the first time (false when spent, expired or never issued), and
   * nothing of it is left afterwards. The memory store leaves both to the state sealer (one instance).
   */
  spend(nonce: string): Promise<boolean>;
  /**
   * Counts one new approval request of `agent` against `rate` (request-rate.ts): for every instance
   * sharing the store at once, so two instances together admit no more than one would.
   */
  admitRequest(agent: string, rate: Rate): Promise<RequestAdmission>;
  /** Told when this approval is decided, wherever. Returns the unsubscribe. */
  watch(id: string, onDecided: (a: Approval) => void): () => void;
  close(): Promise<void>;
}

/** How many decided approvals stay listed (the audit log keeps them all). */
export const KEEP_DECIDED = 100;

export class MemoryApprovalStore implements ApprovalStore {
  readonly kind = 'memory';
  private readonly all = new Map<string, Approval>();
  private readonly watchers = new DecisionWatchers();
  private readonly rate: ReturnType<typeof memoryRequestRate>;

  /** `now`: the request rate's clock (tests move it). */
  constructor(opts: { now?: () => number } = {}) {
    this.rate = memoryRequestRate(opts);
  }

  async add(a: Approval): Promise<void> {
    this.all.set(a.id, a);
    this.prune();
  }

  async get(id: string): Promise<Approval | undefined> {
    return this.all.get(id);
  }

  async list(): Promise<Approval[]> {
    return [...this.all.values()].reverse();
  }

  async decide(id: string, d: Decision, at: number): Promise<Approval | undefined> {
    const a = this.all.get(id);
    if (a?.status !== 'pending') return a;
    const decided: Approval = {
      ...a,
      status: d.status,
      decidedBy: d.by,
      decidedAt: at,
      ...(d.groups ? { decidedByGroups: d.groups } : {}),
      ...(d.reason ? { reason: d.reason } : {}),
    };
    this.all.delete(id); // re-inserted: the map's order is the order of last change
    this.all.set(id, decided);
    this.prune();
    this.watchers.notify(id, decided);
    return decided;
  }

  async issue(): Promise<void> {}

  async spend(): Promise<boolean> {
    return true;
  }

  async admitRequest(agent: string, rate: Rate): Promise<RequestAdmission> {
    return this.rate.admit(agent, rate);
  }

  watch(id: string, onDecided: (a: Approval) => void): () => void {
    return this.watchers.watch(id, onDecided);
  }

  private prune(): void {
    let decided = 0;
    for (const a of this.all.values()) if (a.status !== 'pending') decided++;
    for (const [id, a] of this.all) {
      if (decided <= KEEP_DECIDED) break;
      if (a.status !== 'pending') {
        this.all.delete(id);
        decided--;
      }
    }
  }

  async close(): Promise<void> {
    this.watchers.clear();
    await this.rate.close();
  }
}
