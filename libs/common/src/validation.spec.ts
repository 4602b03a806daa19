import { Type } from 'class-transformer';
import { IsOptional, IsString, ValidateNested } from 'class-validator';
import { ApiException } from './api.exception';
import { createValidationPipe, pruneUnknown } from './validation';

class InnerDto {
  @IsString() city: string;
}

class OuterDto {
  @IsString() name: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => InnerDto)
  address?: InnerDto;

  @IsOptional()
  @ValidateNested({ each: true })
  @Type(() => InnerDto)
  others?: InnerDto[];
}

class NoRulesDto {
  name: string;
}

describe('pruneUnknown and the global pipe', () => {
  it('drops what whitelisting drops, nested DTOs included, before transforming', () => {
    const junk = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, { i }]));
    const pruned = pruneUnknown(
      {
        name: 'a',
        ...junk,
        address: { city: 'x', ...junk },
        others: [{ city: 'y', zip: 1 }],
      },
      OuterDto,
    );
    expect(pruned).toEqual({ name: 'a', address: { city: 'x' }, others: [{ city: 'y' }] });
  });

  it('leaves classes without rules alone', () => {
    const body = { name: 'a', extra: 1 };
    expect(pruneUnknown(body, NoRulesDto)).toBe(body);
  });

  it('validates and whitelists as before', async () => {
    const pipe = createValidationPipe();
    const out = await pipe.transform(
      { name: 'a', extra: 1, address: { city: 'x', zip: 2 } },
      { type: 'body', metatype: OuterDto },
    );
    expect(out).toBeInstanceOf(OuterDto);
    expect(out).toEqual({ name: 'a', address: { city: 'x' } });
    await expect(
      pipe.transform({ name: 1, address: { city: 2 } }, { type: 'body', metatype: OuterDto }),
    ).rejects.toBeInstanceOf(ApiException);
  });

  it('prunes a body of 20 objects of 1,000 unknown keys quickly', async () => {
    const body: Record<string, unknown> = { name: 'a' };
    for (let i = 0; i < 20; i++)
      body[`o${i}`] = Object.fromEntries(Array.from({ length: 1000 }, (_, j) => [`k${j}`, j]));
    const pipe = createValidationPipe();
    const cpu = process.cpuUsage();
    await pipe.transform(body, { type: 'body', metatype: OuterDto });
    const used = process.cpuUsage(cpu);
    expect((used.user + used.system) / 1000).toBeLessThan(20);
  });
});
