/**
 * The Node test environment, plus one CloudFormation Validate engine per Jest worker process, and a code
 * cache for the modules the worker's test files load (cacheCompiledCode below).
 *
 * aws-cdk-lib validates every synthesized template with @aws/cloudformation-validate (cdk.json sets
 * `@aws-cdk/core:validateAgainstDefaultRules`). Building its engine compiles every bundled resource
 * schema, seconds of CPU, and Jest gives each test file a fresh module registry, so each file built it
 * again (and again whenever a later template brought a new resource type). The engine holds no state
 * between templates, and one `cdk synth` uses a single engine for every stack, so sharing it
 * across the files of a worker validates exactly as before. This module is loaded once per worker,
 * outside the test files' registries; test/jest/cloudformation-validate.ts hands the shared module to
 * aws-cdk-lib (package.json → jest.moduleNameMapper).
 */
import { dirname } from 'path';
import NodeEnvironment from 'jest-environment-node';

export const SHARED_CFN_VALIDATE = Symbol.for('hipaa-fhir.jest.cloudformation-validate');

type Engine = { free(): void } & Record<string, unknown>;
type CfnValidate = Record<string, unknown> & { CompositeEngine: new (config?: unknown) => Engine };

/**
 * Test files run in their own V8 context, and the engine accepts only plain objects of its own: a plain
 * object or array from a test file is copied into this context (class instances, such as the module's
 * own TemplateContent, already belong here).
 */
function ownRealm(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value) as object | null;
  const foreignPlain = Array.isArray(value)
    ? !(value instanceof Array)
    : proto !== null && proto !== Object.prototype && Object.getPrototypeOf(proto) === null;
  return foreignPlain ? structuredClone(value) : value;
}

function sharedCloudFormationValidate(): CfnValidate {
  // The copy aws-cdk-lib itself resolves (it is a dependency of aws-cdk-lib, not of this project).
  const cdkLib = dirname(require.resolve('aws-cdk-lib/package.json'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the real engine, from aws-cdk-lib's own dependencies
  const real = require(require.resolve('@aws/cloudformation-validate', { paths: [cdkLib] })) as CfnValidate;
  const engines = new Map<string, Engine>();
  let builds = 0;
  class SharedCompositeEngine {
    constructor(config?: unknown) {
      const key = JSON.stringify(config ?? {});
      let engine = engines.get(key);
      if (!engine) {
        engine = new real.CompositeEngine(ownRealm(config));
        builds++;
        engines.set(key, engine);
      }
      const shared = engine;
      // Returned in place of this object: the shared engine, whose free() is left to the worker's exit.
      return new Proxy(shared, {
        get(target, property) {
          if (property === 'free') return () => undefined;
          const value = Reflect.get(target, property, target) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            try {
              return (value as (...a: unknown[]) => unknown).apply(target, args.map(ownRealm));
            } catch (error) {
              // A trap terminates the engine's WebAssembly instance: the next file gets a fresh engine.
              if (engines.get(key) === target) engines.delete(key);
              throw error;
            }
          };
        },
      });
    }
  }
  const shared = { ...real, CompositeEngine: SharedCompositeEngine as unknown as CfnValidate['CompositeEngine'] };
  // For test/jest/environment.test.ts: how many engines this worker has built.
  Object.defineProperty(shared, 'sharedEngineBuilds', { get: () => builds });
  return shared;
}

const shared = sharedCloudFormationValidate();

/**
 * A V8 code cache for the modules of this worker's test files. Jest gives each test file a fresh module
 * registry and compiles every module it loads again (jest-runtime calls vm.compileFunction with no cached
 * data), so each file that imports aws-cdk-lib parses hundreds of its modules anew. Handing V8 the code cache
 * of the first compilation of the same source cuts that compile time by more than half (docs/testing.md has
 * the figures). Only the compilation is shared: each file still runs every module in its own context, with
 * its own state. The cache is used only for the exact same source text (V8 itself checks only the length),
 * and V8 rejects data from another version or flag set, in which case the module is compiled from source as
 * before.
 */
function cacheCompiledCode(vm: typeof import('vm')): { hits(): number } {
  const compile = vm.compileFunction;
  const cache = new Map<string, { code: string; data: Buffer }>();
  let hits = 0;
  vm.compileFunction = function compileFunction(code, params, options) {
    const filename = options?.filename;
    // Only calls like jest-runtime's: a file name, and no code cache of the caller's own.
    if (!filename || options.cachedData !== undefined || options.produceCachedData !== undefined) return compile(code, params, options);
    const known = cache.get(filename);
    if (known && known.code === code) {
      const fn = compile(code, params, { ...options, cachedData: known.data });
      if (!(fn as { cachedDataRejected?: boolean }).cachedDataRejected) hits++;
      return fn;
    }
    const fn = compile(code, params, { ...options, produceCachedData: true });
    const data = (fn as { cachedData?: Buffer }).cachedData;
    if (data) cache.set(filename, { code, data });
    return fn;
  } as typeof vm.compileFunction;
  return { hits: () => hits };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the same module object jest-runtime calls compileFunction on
export const compiledCode = cacheCompiledCode(require('vm') as typeof import('vm'));

/** For test/jest/environment.test.ts: how many compilations this worker took from the code cache. */
export const COMPILED_CODE_HITS = Symbol.for('hipaa-fhir.jest.compiled-code-hits');

export default class TestEnvironment extends NodeEnvironment {
  constructor(...args: ConstructorParameters<typeof NodeEnvironment>) {
    super(...args);
    const global = this.global as unknown as Record<symbol, unknown>;
    global[SHARED_CFN_VALIDATE] = shared;
    global[COMPILED_CODE_HITS] = compiledCode.hits;
  }
}
