import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Segment rows toasted from 128 bytes on (PostgreSQL's default is about 2 kB): the vector (its
 * type's storage is already EXTERNAL) and long content move out of line, so full-text ranking and
 * the row fetches after a vector search read narrow heap rows. Measured in bench/retrieval:
 * hybrid and full-text p95 about a third lower, semantic lower too. The HNSW indexes keep their
 * own copy of each vector, so similarity search does not read the heap's.
 */
export class SegmentsNarrowHeap1796043000000 implements MigrationInterface {
  name = 'SegmentsNarrowHeap1796043000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "segments" SET (toast_tuple_target = 128)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "segments" RESET (toast_tuple_target)`);
  }
}
