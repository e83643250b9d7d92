import type { DefaultedPreviews } from './generated/cdk-context';

/**
 * Preview environments (one per feature branch or pull request, suffix `br-...`): which branches get
 * one, how long they live, how many may exist, and the sandbox account they live in. The settings of
 * `previews` with the schema's defaults (see cdk-context.schema.json for each one).
 */
export type PreviewConfig = DefaultedPreviews;
