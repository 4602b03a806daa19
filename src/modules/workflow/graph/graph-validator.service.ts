import { ApiException, ValidateError } from '@app/common';
import { Injectable } from '@nestjs/common';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import { DatasetService } from 'src/modules/dataset/services/dataset.service';
import { ToolRuntime } from 'src/modules/tool/runtime/tool-runtime.service';
import {
  validateGraph,
  violationFields,
  type GraphValidationDeps,
  type GraphViolation,
} from './graph.validator';

/** The full validation with the account's tools, datasets and the model catalogue behind it. */
@Injectable()
export class GraphValidator {
  constructor(
    private readonly tools: ToolRuntime,
    private readonly datasets: DatasetService,
    private readonly models: ModelCatalog,
  ) {}

  depsFor(accountId: string): GraphValidationDeps {
    return {
      toolProblem: async (ref) => {
        try {
          await this.tools.resolve(accountId, ref);
          return null;
        } catch (e) {
          if (e instanceof ValidateError) {
            const reasons = Object.values(e.data as Record<string, string[]>).flat();
            return `invalid params: ${reasons.join('; ') || e.message}`;
          }
          if (e instanceof ApiException) return e.message;
          throw e;
        }
      },
      ownedDatasetIds: async (ids) =>
        new Set((await this.datasets.entities(accountId, ids)).map((d) => d.id)),
      modelProblem: (provider, model) => {
        try {
          this.models.model(provider, model, 'chat');
          return null;
        } catch (e) {
          if (e instanceof ApiException) return e.message;
          throw e;
        }
      },
    };
  }

  violations(accountId: string, graph: unknown): Promise<GraphViolation[]> {
    return validateGraph(graph, this.depsFor(accountId));
  }

  /** Throws one validate_error: the first violation as `message`, all of them in `data`. */
  async assertValid(accountId: string, graph: unknown): Promise<void> {
    const found = await this.violations(accountId, graph);
    if (found.length) throw new ValidateError(violationFields(found), found[0].message);
  }
}
