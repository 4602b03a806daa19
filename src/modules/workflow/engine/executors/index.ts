import type { OutboundHttpClient } from '@app/http';
import { ExecutorRegistry } from '../workflow-engine';
import {
  EndExecutor,
  IfElseExecutor,
  StartExecutor,
  TemplateTransformExecutor,
} from './basic.executors';
import { HttpRequestExecutor } from './http-request.executor';

export * from './basic.executors';
export * from './http-request.executor';

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
