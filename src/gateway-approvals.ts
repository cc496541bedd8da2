// Human approval of tool calls (policy `approvals:` rules) as the gateway wires it;
// separate so gateway.ts keeps to assembly.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RuntimeConfig } from './config/runtime.js';
import type { Upstream } from './upstream/upstream.js';
import type { AuditRecorder } from './audit/step.js';
import { redactorFor } from './audit/open.js';
import { ApprovalService } from './approvals/service.js';
import { MemoryApprovalStore, type ApprovalStore } from './approvals/store.js';

export function gatewayApprovalService(
  config: RuntimeConfig,
  deps: {
    /** Pending approvals; in memory when not given. */
    store: ApprovalStore | undefined;
    recorder: AuditRecorder;
    /** Where the held tool's description is read, when a person is asked. */
    upstreams: readonly Upstream[];
    baseUrl: () => string | undefined;
    registry: Registry;
    log: Logger;
  },
): ApprovalService {
  return new ApprovalService({
    store: deps.store ?? new MemoryApprovalStore(),
    config: config.approvals,
    recorder: deps.recorder,
    redact: redactorFor(config),
    describe: (server, native) => {
      const d = deps.upstreams
        .find((u) => u.name === server)
        ?.catalog.tools.find((t) => t.name === native)?.description;
      return typeof d === 'string' ? d : undefined;
    },
    instance: config.instanceId,
    baseUrl: deps.baseUrl,
    registry: deps.registry,
    log: deps.log,
  });
}
