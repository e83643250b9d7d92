export * from './environment-config';
export * from './pipeline-config';
export * from './preview-config';
export * from './account-layout';
export * from './context';
export * from './resolve-app';
export * from './restore-drill-config';
