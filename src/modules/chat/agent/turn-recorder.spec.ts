import type { UsageRecord } from 'src/modules/model/runtime/usage.service';
import type { AgentEvent } from './agent.types';
import { type AgentFrame, TurnRecorder } from './turn-recorder';

const IDS = { conversation_id: 'c', message_id: 'm', task_id: 't' };

const usage = (prompt: number, completion: number, price: number): UsageRecord => ({
  id: 'u',
  provider: 'openai',
  model: 'gpt-4o-mini',
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  price,
  currency: 'USD',
  latency_ms: 1,
  status: 'success',
});

function recorder(keywords: string[] | null = null) {
  const frames: Array<{ event: AgentEvent; data: AgentFrame }> = [];
  const r = new TurnRecorder(IDS, (event, data) => frames.push({ event, data }), keywords);
  return { r, frames };
}

describe('TurnRecorder', () => {
  it('gives every frame the full shape and the turn’s ids', () => {
    const { r, frames } = recorder();
    r.recall('remembered');
    expect(frames[0]).toEqual({
      event: 'long_term_memory_recall',
      data: {
        id: expect.any(String),
        event: 'long_term_memory_recall',
        thought: '',
        observation: 'remembered',
        tool: '',
        tool_input: {},
        answer: '',
        latency: 0,
        ...IDS,
      },
    });
  });

  it('merges answer deltas per step, sums usage over calls and gives each step its call’s usage', () => {
    const { r, frames } = recorder();
    r.sink.thought([{ id: 'x', name: 'tool', args: { a: 1 }, type: 'tool_call' }], 0.5);
    r.sink.action('agent_action', 'tool', { a: 1 }, 'result', 0.2);
    r.sink.messageDelta('s1', 'Hel', 0.1);
    r.sink.messageDelta('s1', 'lo', 0.2);
    r.sink.usage(usage(10, 5, 0.001));
    r.sink.messageEnd('s1', 0.3);
    expect(frames.map((f) => f.event)).toEqual([
      'agent_thought',
      'agent_action',
      'agent_message',
      'agent_message',
      'agent_message',
    ]);
    expect(
      frames.slice(2).map((f) => [f.data.id, f.data.thought, f.data.total_token_count]),
    ).toEqual([
      ['s1', 'Hel', 0],
      ['s1', 'lo', 0],
      ['s1', '', 15],
    ]);
    expect(r.answer).toBe('Hello');
    expect([r.promptTokens, r.completionTokens, r.price]).toEqual([10, 5, 0.001]);
    const steps = r.close();
    expect(steps).toEqual([
      {
        event: 'agent_thought',
        thought: JSON.stringify([{ id: 'x', name: 'tool', args: { a: 1 }, type: 'tool_call' }]),
        latency: 0.5,
      },
      {
        event: 'agent_action',
        tool: 'tool',
        tool_input: { a: 1 },
        observation: 'result',
        latency: 0.2,
      },
      {
        event: 'agent_message',
        thought: 'Hello',
        latency: 0.3,
        total_token_count: 15,
        total_price: 0.001,
      },
    ]);
  });

  it('masks output keywords across deltas and releases held text when the run ends mid-step', () => {
    const { r, frames } = recorder(['secret']);
    r.sink.messageDelta('s1', 'a sec', 0.1);
    r.sink.messageDelta('s1', 'ret b se', 0.2);
    const steps = r.close();
    expect(frames.map((f) => f.data.thought)).toEqual(['a ', '** b ', 'se']);
    expect(r.answer).toBe('a ** b se');
    expect(steps).toMatchObject([{ event: 'agent_message', thought: 'a ** b se' }]);
  });

  it('drops reports that come after close (a run that ignored its abort)', () => {
    const { r, frames } = recorder();
    r.close();
    r.sink.messageDelta('s1', 'late', 0.1);
    r.sink.usage(usage(1, 1, 1));
    expect(frames).toEqual([]);
    expect(r.answer).toBe('');
    expect(r.totalTokens).toBe(0);
  });
});
