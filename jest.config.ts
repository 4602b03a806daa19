import type { Config } from 'jest';
import { pathsToModuleNameMapper } from 'ts-jest';
import ts from 'typescript';

// Path aliases live in tsconfig.json only; read them from there.
const { config: tsconfig } = ts.readConfigFile('./tsconfig.json', (p) => ts.sys.readFile(p));
const paths = (tsconfig?.compilerOptions?.paths ?? {}) as Record<string, string[]>;

// ts-jest transpiles each file on its own (isolatedModules): fast, and type errors are the
// typecheck step's job. The Swagger CLI plugin needs a full program, so it runs in `nest build`
// (and therefore in `npm run openapi`), not here.
const transform: Config['transform'] = { '^.+\\.ts$': ['ts-jest', {}] };

const common: Config = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '.',
  transform,
  moduleNameMapper: pathsToModuleNameMapper(paths, { prefix: '<rootDir>/' }),
  testEnvironment: 'node',
};

const config: Config = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
      setupFiles: ['<rootDir>/test/setup/worker-env.ts'],
    },
  ],
  // testTimeout is a global option (ignored inside a project): e2e boots apps and databases.
  testTimeout: 30000,
  collectCoverageFrom: ['src/**/*.ts', 'libs/**/*.ts'],
  coverageDirectory: './coverage',
};

export default config;
