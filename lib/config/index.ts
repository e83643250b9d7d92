export * from './errors';
export * from './naming';
export * from './branch-suffix';
export * from './environment-config';
export * from './pipeline-config';
export * from './ephemeral-config';
export * from './account-layout';
export * from './context';
