// An upstream's tool input schemas by name, rebuilt when its tool list changes; separate so upstream.ts keeps to the upstream itself.
export class ToolSchemaIndex {
  private toolIndex: { of: readonly Record<string, unknown>[]; byName: Map<string, unknown> } = {
    of: [],
    byName: new Map(),
  };

  constructor(private readonly tools: () => readonly Record<string, unknown>[]) {}

  /** The input schema of the named tool (Mcp-Param-* headers need it per call). */
  schema(name: string): unknown {
    const tools = this.tools();
    if (this.toolIndex.of !== tools) {
      this.toolIndex = {
        of: tools,
        byName: new Map(tools.map((t) => [String(t.name), t.inputSchema])),
      };
    }
    return this.toolIndex.byName.get(name);
  }
}
