/**
 * A small ONNX graph builder: nodes get unique output names, initializers are added
 * once by name, and `build()` returns the ModelProto for `encodeModel`.
 */
import {
  OnnxAttributeType,
  OnnxDataType,
  valueInfo,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type OnnxDim,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto.js';

/** Opset of the default domain: 17 is the first with LayerNormalization. */
export const ONNX_OPSET = 17;
/** IR version 8 is what opset 17 was released with. */
const IR_VERSION = 8;
export const MS_DOMAIN = 'com.microsoft';

export type AttributeValue =
  | { int: number }
  | { float: number }
  | { ints: number[] }
  | { floats: number[] }
  | { string: string }
  | { tensor: TensorProto };

export const attr = {
  int: (v: number): AttributeValue => ({ int: v }),
  float: (v: number): AttributeValue => ({ float: v }),
  ints: (v: number[]): AttributeValue => ({ ints: v }),
  string: (v: string): AttributeValue => ({ string: v }),
  tensor: (v: TensorProto): AttributeValue => ({ tensor: v }),
};

function toAttribute(name: string, value: AttributeValue): AttributeProto {
  if ('int' in value) return { name, type: OnnxAttributeType.INT, i: value.int };
  if ('float' in value) return { name, type: OnnxAttributeType.FLOAT, f: value.float };
  if ('ints' in value) return { name, type: OnnxAttributeType.INTS, ints: value.ints };
  if ('floats' in value) return { name, type: OnnxAttributeType.FLOATS, floats: value.floats };
  if ('string' in value) return { name, type: OnnxAttributeType.STRING, s: new TextEncoder().encode(value.string) };
  return { name, type: OnnxAttributeType.TENSOR, t: value.tensor };
}

function bytesOf(data: Float32Array | BigInt64Array | Int8Array | Uint8Array | Uint16Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function floatTensor(name: string, dims: number[], data: Float32Array): TensorProto {
  return { name, dims, dataType: OnnxDataType.FLOAT, rawData: bytesOf(data) };
}

export function int64Tensor(name: string, dims: number[], values: readonly number[]): TensorProto {
  return { name, dims, dataType: OnnxDataType.INT64, rawData: bytesOf(BigInt64Array.from(values.map((v) => BigInt(v)))) };
}

export function int8Tensor(name: string, dims: number[], data: Int8Array): TensorProto {
  return { name, dims, dataType: OnnxDataType.INT8, rawData: bytesOf(data) };
}

export function float16Tensor(name: string, dims: number[], bits: Uint16Array): TensorProto {
  return { name, dims, dataType: OnnxDataType.FLOAT16, rawData: bytesOf(bits) };
}

export interface NodeOptions {
  domain?: string;
  attributes?: Record<string, AttributeValue>;
  /** How many outputs the node has (default 1). */
  outputs?: number;
  /** Readable stem for the node and output names. */
  name?: string;
}

export class GraphBuilder {
  readonly #nodes: NodeProto[] = [];
  readonly #initializers = new Map<string, TensorProto>();
  readonly #inputs: ValueInfoProto[] = [];
  readonly #outputs: ValueInfoProto[] = [];
  readonly #usedNames = new Set<string>();
  readonly #domains = new Set<string>();

  #unique(stem: string): string {
    let name = stem;
    for (let i = 1; this.#usedNames.has(name); i++) name = `${stem}_${i}`;
    this.#usedNames.add(name);
    return name;
  }

  input(name: string, elemType: OnnxDataType, dims: OnnxDim[]): string {
    this.#usedNames.add(name);
    this.#inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Renames the value `from` to the graph output `name` through an Identity node. */
  output(from: string, name: string, elemType: OnnxDataType, dims: OnnxDim[]): void {
    this.#usedNames.add(name);
    this.#nodes.push({ input: [from], output: [name], name: `${name}_identity`, opType: 'Identity', attribute: [] });
    this.#outputs.push(valueInfo(name, elemType, dims));
  }

  /** Adds an initializer (weights); its name is made unique if needed. */
  initializer(tensor: TensorProto): string {
    const name = this.#unique(tensor.name);
    this.#initializers.set(name, { ...tensor, name });
    return name;
  }

  /** A small int64 constant, shared between nodes that use the same values. */
  int64(values: readonly number[], dims: number[] = [values.length]): string {
    const name = `const_i64_${dims.join('x')}_${values.join('_').replace(/-/g, 'm')}`;
    if (!this.#initializers.has(name)) {
      this.#usedNames.add(name);
      this.#initializers.set(name, int64Tensor(name, dims, values));
    }
    return name;
  }

  /** A float32 scalar constant (shape []), shared by value. */
  scalar(value: number): string {
    const name = `const_f32_${String(value).replace(/[^0-9a-zA-Z]/g, '_')}`;
    if (!this.#initializers.has(name)) {
      this.#usedNames.add(name);
      this.#initializers.set(name, floatTensor(name, [], Float32Array.of(value)));
    }
    return name;
  }

  /** Adds a node and returns its output names. An empty input name marks an omitted optional input. */
  nodeN(opType: string, inputs: string[], options: NodeOptions = {}): string[] {
    const stem = options.name ?? opType;
    const nodeName = this.#unique(stem);
    const outputs = Array.from({ length: options.outputs ?? 1 }, (_, i) => (i === 0 ? nodeName : this.#unique(`${nodeName}_out${i}`)));
    if (options.domain) this.#domains.add(options.domain);
    this.#nodes.push({
      input: inputs,
      output: outputs,
      name: nodeName,
      opType,
      ...(options.domain ? { domain: options.domain } : {}),
      attribute: Object.entries(options.attributes ?? {}).map(([k, v]) => toAttribute(k, v)),
    });
    return outputs;
  }

  node(opType: string, inputs: string[], options: Omit<NodeOptions, 'outputs'> = {}): string {
    return this.nodeN(opType, inputs, options)[0]!;
  }

  build(name: string, docString: string): ModelProto {
    return {
      irVersion: IR_VERSION,
      producerName: 'rsclip',
      producerVersion: '1',
      docString,
      opsetImport: [{ domain: '', version: ONNX_OPSET }, ...[...this.#domains].map((domain) => ({ domain, version: 1 }))],
      graph: {
        name,
        node: this.#nodes,
        initializer: [...this.#initializers.values()],
        input: this.#inputs,
        output: this.#outputs,
      },
    };
  }
}
