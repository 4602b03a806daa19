import type * as Anthropic from '@langchain/anthropic';
import type * as CallbacksBase from '@langchain/core/callbacks/base';
import type * as Messages from '@langchain/core/messages';
import type * as GoogleGenAI from '@langchain/google-genai';
import type * as Ollama from '@langchain/ollama';
import type * as OpenAI from '@langchain/openai';

/*
 * LangChain, loaded when a model is first used rather than at boot: the provider packages and the
 * SDKs under them (openai, @anthropic-ai/sdk, @google/generative-ai, ollama), about 900 modules and
 * 15 MB of heap, and @langchain/core with langsmith and zod, about 400 modules and 7 MB more, which
 * an idle server (or one using a single provider) never needs. `require` rather than `import()`: it loads the same CommonJS
 * builds as the rest of the app, so there is one @langchain/core and its classes stay one.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
let openai: typeof OpenAI | undefined;
let anthropic: typeof Anthropic | undefined;
let google: typeof GoogleGenAI | undefined;
let ollama: typeof Ollama | undefined;
let messages: typeof Messages | undefined;
let callbacksBase: typeof CallbacksBase | undefined;

export const openaiPackage = (): typeof OpenAI =>
  (openai ??= require('@langchain/openai') as typeof OpenAI);
export const anthropicPackage = (): typeof Anthropic =>
  (anthropic ??= require('@langchain/anthropic') as typeof Anthropic);
export const googlePackage = (): typeof GoogleGenAI =>
  (google ??= require('@langchain/google-genai') as typeof GoogleGenAI);
export const ollamaPackage = (): typeof Ollama =>
  (ollama ??= require('@langchain/ollama') as typeof Ollama);
export const messagesPackage = (): typeof Messages =>
  (messages ??= require('@langchain/core/messages') as typeof Messages);
export const callbacksBasePackage = (): typeof CallbacksBase =>
  (callbacksBase ??= require('@langchain/core/callbacks/base') as typeof CallbacksBase);
