import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { ToInt, TrimToUndefined } from './transforms';

export const MAX_PAGE = 9999;
export const MAX_PAGE_SIZE = 50;
export const DEFAULT_PAGE_SIZE = 20;

/** Paging query of every list (CONTRACT.md: current_page 1..9999, page_size 1..50). */
export class PaginatorReqDto {
  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_PAGE,
    default: 1,
    description: 'Page number, from 1',
  })
  @ToInt()
  @IsOptional()
  // Class-validator reports constraints bottom-up: the type check comes first.
  @Max(MAX_PAGE, { message: `current_page must be at most ${MAX_PAGE}` })
  @Min(1, { message: 'current_page must be at least 1' })
  @IsInt({ message: 'current_page must be an integer' })
  current_page: number = 1;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: DEFAULT_PAGE_SIZE,
    description: 'Items per page',
  })
  @ToInt()
  @IsOptional()
  // Class-validator reports constraints bottom-up: the type check comes first.
  @Max(MAX_PAGE_SIZE, { message: `page_size must be at most ${MAX_PAGE_SIZE}` })
  @Min(1, { message: 'page_size must be at least 1' })
  @IsInt({ message: 'page_size must be an integer' })
  page_size: number = DEFAULT_PAGE_SIZE;
}

export class SearchPaginatorReqDto extends PaginatorReqDto {
  @ApiPropertyOptional({
    maxLength: 100,
    description: 'Filter by name (case-insensitive substring)',
  })
  @TrimToUndefined()
  @IsOptional()
  @IsString({ message: 'search_word must be a string' })
  @MaxLength(100, { message: 'search_word must be at most 100 characters' })
  search_word?: string;
}

export class PaginatorDto {
  @ApiProperty({ description: 'The requested page' }) current_page: number;
  @ApiProperty({ description: 'Items per page' }) page_size: number;
  @ApiProperty({ description: 'ceil(total_record / page_size); 0 when empty' }) total_page: number;
  @ApiProperty({ description: 'Items across all pages' }) total_record: number;
}

export interface Page<T> {
  list: T[];
  paginator: PaginatorDto;
}

export function buildPaginator(
  req: { current_page?: number; page_size?: number },
  total: number,
): PaginatorDto {
  const current_page = req.current_page ?? 1;
  const page_size = req.page_size ?? DEFAULT_PAGE_SIZE;
  return {
    current_page,
    page_size,
    total_page: total === 0 ? 0 : Math.ceil(total / page_size),
    total_record: total,
  };
}

export function toPage<T>(
  list: T[],
  total: number,
  req: { current_page?: number; page_size?: number },
): Page<T> {
  return { list, paginator: buildPaginator(req, total) };
}

/** Runs a query builder for one page in SQL (LIMIT/OFFSET plus COUNT), never in memory. */
export async function paginate<E extends ObjectLiteral, T = E>(
  qb: SelectQueryBuilder<E>,
  req: { current_page?: number; page_size?: number },
  map?: (row: E) => T,
): Promise<Page<T>> {
  const page = req.current_page ?? 1;
  const size = req.page_size ?? DEFAULT_PAGE_SIZE;
  const [rows, total] = await qb
    .skip((page - 1) * size)
    .take(size)
    .getManyAndCount();
  return toPage(map ? rows.map(map) : (rows as unknown as T[]), total, req);
}

/** Integer Unix seconds, as the original API answers timestamps. */
export function toUnix(date: Date | null | undefined): number {
  return date ? Math.floor(date.getTime() / 1000) : 0;
}

/** Escapes LIKE/ILIKE wildcards so a search word matches literally (use with the default `\` escape). */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
