import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

/** The one way repositories run multi-table writes atomically. */
@Injectable()
export class TransactionService {
  constructor(private readonly dataSource: DataSource) {}

  run<T>(work: (manager: EntityManager) => Promise<T>, isolation?: IsolationLevel): Promise<T> {
    return isolation
      ? this.dataSource.transaction(isolation, work)
      : this.dataSource.transaction(work);
  }
}
