// Small zod pieces shared by every config schema (gateway, LLM, limits), in a module of their own
// so the schemas can import them without importing each other.
import { z } from 'zod';

export const duration = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d+(ms|s|m|h)$/)])
  .describe('milliseconds as a number, or a string like "500ms", "30s", "5m", "1h"');

export const serverNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9-]{0,62}$/, 'upstream names are letters, digits and "-", starting with a letter');
