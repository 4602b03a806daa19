import { OutboundRequestError } from '@app/http';
import { modelErrorMessage } from './model-error';

describe('modelErrorMessage', () => {
  it('gives our own outbound errors as they are, found through SDK wrappers', () => {
    const own = new OutboundRequestError('ssrf_blocked', 'Refused to connect to 127.0.0.1');
    const wrapped = Object.assign(new Error('Connection error.'), { cause: own });
    expect(modelErrorMessage(wrapped)).toBe('Refused to connect to 127.0.0.1');
  });

  it('keeps the status and the structured reason of an OpenAI or Anthropic error', () => {
    const openai = Object.assign(new Error('401 Incorrect API key provided: sk-...'), {
      status: 401,
      error: { message: 'Incorrect API key provided: sk-...', type: 'invalid_request_error' },
    });
    expect(modelErrorMessage(openai)).toBe('HTTP 401: Incorrect API key provided: sk-...');
    const anthropic = Object.assign(new Error('400 {"type":"error"}'), {
      status: 400,
      error: { type: 'error', error: { type: 'invalid_request_error', message: 'bad\nmodel' } },
    });
    expect(modelErrorMessage(anthropic)).toBe('HTTP 400: bad model');
  });

  it('says only the status when the provider gave no reason', () => {
    const openai = Object.assign(new Error('502 status code (no body)'), { status: 502 });
    expect(modelErrorMessage(openai)).toBe('HTTP 502');
    const ollama = Object.assign(new Error('Error 502: Bad Gateway'), { status_code: 502 });
    expect(modelErrorMessage(ollama)).toBe('HTTP 502: Bad Gateway');
  });

  it('strips markup, control characters and hints, and truncates', () => {
    const html = Object.assign(new Error(`500 <html><body>${'x'.repeat(500)}</body></html>`), {
      status: 500,
    });
    const message = modelErrorMessage(html);
    expect(message).not.toMatch(/<|>/);
    expect(message.length).toBeLessThanOrEqual('HTTP 500: '.length + 200);
    const hinted = new Error(
      'Model failed\u0000\u001b[31m red\n\nTroubleshooting URL: https://js.langchain.com/x',
    );
    expect(modelErrorMessage(hinted)).toBe('Model failed red');
  });
});
