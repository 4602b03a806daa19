import type { OutboundHttpClient } from '@app/http';
import { ExecutorRegistry } from '../workflow-engine';
import {
  EndExecutor,
  IfElseExecutor,
  StartExecutor,
  TemplateTransformExecutor,
} from './basic.executors';
import { CodeExecutor } from './code.executor';
import { DatasetRetrievalExecutor, type Retriever } from './dataset-retrieval.executor';
import { HttpRequestExecutor } from './http-request.executor';
import { IterationExecutor } from './iteration.executor';
import { LlmExecutor, QuestionClassifierExecutor, type ChatModelSource } from './llm.executors';
import { ToolExecutor, type ToolInvoker } from './tool.executor';
import type { CodeRunner } from '../engine.types';

export * from './basic.executors';
export * from './code.executor';
export * from './dataset-retrieval.executor';
export * from './http-request.executor';
export * from './iteration.executor';
export * from './llm.executors';
export * from './tool.executor';

/** The executors that need no model, tool, dataset or sandbox. */
export function registerCoreExecutors(
  registry: ExecutorRegistry,
  deps: { http: OutboundHttpClient },
): ExecutorRegistry {
  return registry
    .register('start', new StartExecutor())
    .register('end', new EndExecutor())
    .register('template_transform', new TemplateTransformExecutor())
    .register('if_else', new IfElseExecutor())
    .register('http_request', new HttpRequestExecutor(deps.http));
}

/**
 * The executors backed by other modules: models (llm, question_classifier), tools, datasets, the
 * code sandbox, and iteration (which needs only the engine). Without a `code` runner the code
 * node has no executor and fails at run time saying so.
 */
export function registerServiceExecutors(
  registry: ExecutorRegistry,
  deps: {
    models: ChatModelSource;
    tools: ToolInvoker;
    retrieval: Retriever;
    code?: CodeRunner | null;
  },
): ExecutorRegistry {
  registry
    .register('llm', new LlmExecutor(deps.models))
    .register('question_classifier', new QuestionClassifierExecutor(deps.models))
    .register('tool', new ToolExecutor(deps.tools))
    .register('dataset_retrieval', new DatasetRetrievalExecutor(deps.retrieval))
    .register('iteration', new IterationExecutor());
  if (deps.code) registry.register('code', new CodeExecutor(deps.code));
  return registry;
}
