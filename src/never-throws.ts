// A step written as a plain function (not async) so that a call it passes on costs no promise and
// no microtask turns of its own (the hot path). Callers still expect what an async step gives: a
// throw arrives as a rejected promise.
import type { McpStep } from './relay/scope.js';

export function neverThrows(step: McpStep): McpStep {
  return (call, next) => {
    try {
      return step(call, next);
    } catch (err) {
      return Promise.reject(err);
    }
  };
}
