// The workflows the worker registers; bundled into Temporal's deterministic sandbox.
export { contractWorkflow } from './contract';
