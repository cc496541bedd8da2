// The `telemetry:` config section: OpenTelemetry traces exported over OTLP/HTTP (JSON). Absent (or
// `enabled: false`, or no endpoint): tracing is off and costs nothing (no step, no span object).
import { z } from 'zod';
import { duration } from '../config/primitives.js';

/** Header names an operator may set on exports (a collector's API key, a tenant id). */
const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'header names are letters, digits and "-"');

export const telemetrySchema = z
  .object({
    enabled: z.boolean().default(true).describe('false keeps the section but turns tracing off'),
    service_name: z.string().min(1).max(100).default('tollgate').describe('the resource attribute service.name'),
    otlp: z
      .object({
        endpoint: z
          .url()
          .refine((u) => /^https?:/.test(u), { message: 'an http:// or https:// URL' })
          .describe('OTLP/HTTP base URL (http://collector:4318); spans go to <endpoint>/v1/traces as JSON'),
        headers: z
          .record(headerName, z.string().max(4096))
          .default({})
          .describe('sent with every export, e.g. an API key as ${ENV}'),
        timeout: duration.default('10s').describe('one export gives up after this long (the spans are dropped)'),
      })
      .strict()
      .optional()
      .describe('where spans are sent; without it tracing is off'),
    sampling: z
      .object({
        ratio: z.number().min(0).max(1).default(1).describe('share of new traces recorded (0..1), by trace id'),
        parent_based: z
          .boolean()
          .default(true)
          .describe(
            "follow the agent's sampled flag when its traceparent has one; false: the ratio decides every trace",
          ),
      })
      .strict()
      .prefault({}),
    batch: z
      .object({
        max_queue: z
          .number()
          .int()
          .min(1)
          .max(100_000)
          .default(2048)
          .describe('spans waiting for export; when full, new spans are dropped (calls never wait)'),
        max_batch: z.number().int().min(1).max(10_000).default(512).describe('spans per export request'),
        delay: duration.default('2s').describe('how often a partial batch is sent'),
      })
      .strict()
      .prefault({})
      .refine((b) => b.max_batch <= b.max_queue, { message: 'max_batch must not exceed max_queue' }),
  })
  .strict()
  .optional()
  .describe('OpenTelemetry traces (OTLP/HTTP); off when absent');

export type TelemetryInput = z.output<typeof telemetrySchema>;
