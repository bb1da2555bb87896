export { ModelHandle, ModelShipClient, type Feedback, type InferRequest, type Label, type ModelMetadata, type ModelShipClientOptions, type TaskOptions } from './client.ts';
export { ModelShipError } from './errors.ts';
export type { CallOptions, RetryOptions } from './transport.ts';
export type { Datatype, InferResult, NamedInput, OutputTensor, Tensor, TensorData, TypedArray } from './tensors.ts';
