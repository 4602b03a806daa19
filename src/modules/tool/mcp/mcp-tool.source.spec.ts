import { ToolCallError } from '../runtime/tool.types';
import { inputsOf } from './mcp-provider.service';
import { renderMcpResult } from './mcp-tool.source';

describe('renderMcpResult', () => {
  it('joins text parts and names other content briefly', () => {
    const out = renderMcpResult({
      content: [
        { type: 'text', text: 'first' },
        { type: 'image', data: 'aGVsbG8=', mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'file:///a.txt', mimeType: 'text/plain', text: 'x' } },
        { type: 'resource_link', uri: 'https://x.test/doc', name: 'doc' },
        { type: 'text', text: 'last' },
      ],
    });
    expect(out).toBe(
      'first\n[image image/png, 6 bytes]\n[resource file:///a.txt (text/plain)]\n[resource link doc: https://x.test/doc]\nlast',
    );
  });

  it('prefers structuredContent as the data', () => {
    expect(
      renderMcpResult({
        content: [{ type: 'text', text: '{"n":1}' }],
        structuredContent: { n: 1 },
      }),
    ).toEqual({ n: 1 });
  });

  it('turns isError into a ToolCallError with sanitized, capped text', () => {
    const long = `<script>x</script>\u001b[31mboom ${'y'.repeat(1000)}`;
    let err: unknown;
    try {
      renderMcpResult({ isError: true, content: [{ type: 'text', text: long }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ToolCallError);
    const message = (err as Error).message;
    expect(message).toMatch(/^the MCP tool failed: x boom y+…$/);
    expect(message.length).toBeLessThanOrEqual('the MCP tool failed: '.length + 500);
    expect(() => renderMcpResult({ isError: true, content: [] })).toThrow(/^the MCP tool failed$/);
  });
});

describe('inputsOf', () => {
  it('maps JSON Schema types to the console type names, in order', () => {
    expect(
      inputsOf({
        type: 'object',
        properties: {
          q: { type: 'string', description: 'query' },
          n: { type: 'integer' },
          f: { type: ['number', 'null'] },
          b: { type: 'boolean' },
          o: { type: 'object' },
          l: { type: 'array' },
          x: {},
        },
        required: ['q', 'b'],
      }),
    ).toEqual([
      { name: 'q', description: 'query', required: true, type: 'str' },
      { name: 'n', description: '', required: false, type: 'int' },
      { name: 'f', description: '', required: false, type: 'float' },
      { name: 'b', description: '', required: true, type: 'bool' },
      { name: 'o', description: '', required: false, type: 'str' },
      { name: 'l', description: '', required: false, type: 'str' },
      { name: 'x', description: '', required: false, type: 'str' },
    ]);
    expect(inputsOf({ type: 'object' })).toEqual([]);
  });
});
