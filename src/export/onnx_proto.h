/* onnx_proto.h - the field numbers of onnx.proto that the exporter writes
 * (private to src/export and its tests). Names follow the .proto file:
 * message, then field.
 */
#ifndef CF_EXPORT_ONNX_PROTO_H
#define CF_EXPORT_ONNX_PROTO_H

enum {
    /* ModelProto */
    ONNX_MODEL_IR_VERSION = 1,
    ONNX_MODEL_PRODUCER_NAME = 2,
    ONNX_MODEL_PRODUCER_VERSION = 3,
    ONNX_MODEL_DOC_STRING = 6,
    ONNX_MODEL_GRAPH = 7,
    ONNX_MODEL_OPSET_IMPORT = 8,
    ONNX_MODEL_METADATA_PROPS = 14,
    /* OperatorSetIdProto */
    ONNX_OPSET_DOMAIN = 1,
    ONNX_OPSET_VERSION = 2,
    /* StringStringEntryProto */
    ONNX_ENTRY_KEY = 1,
    ONNX_ENTRY_VALUE = 2,
    /* GraphProto */
    ONNX_GRAPH_NODE = 1,
    ONNX_GRAPH_NAME = 2,
    ONNX_GRAPH_INITIALIZER = 5,
    ONNX_GRAPH_INPUT = 11,
    ONNX_GRAPH_OUTPUT = 12,
    ONNX_GRAPH_VALUE_INFO = 13,
    /* NodeProto */
    ONNX_NODE_INPUT = 1,
    ONNX_NODE_OUTPUT = 2,
    ONNX_NODE_NAME = 3,
    ONNX_NODE_OP_TYPE = 4,
    ONNX_NODE_ATTRIBUTE = 5,
    /* AttributeProto */
    ONNX_ATTR_NAME = 1,
    ONNX_ATTR_F = 2,
    ONNX_ATTR_I = 3,
    ONNX_ATTR_INTS = 8,
    ONNX_ATTR_TYPE = 20,
    /* AttributeProto.AttributeType */
    ONNX_ATTR_TYPE_FLOAT = 1,
    ONNX_ATTR_TYPE_INT = 2,
    ONNX_ATTR_TYPE_INTS = 7,
    /* TensorProto */
    ONNX_TENSOR_DIMS = 1,
    ONNX_TENSOR_DATA_TYPE = 2,
    ONNX_TENSOR_NAME = 8,
    ONNX_TENSOR_RAW_DATA = 9,
    /* TensorProto.DataType */
    ONNX_DTYPE_FLOAT = 1,
    ONNX_DTYPE_INT64 = 7,
    /* ValueInfoProto */
    ONNX_VALUE_NAME = 1,
    ONNX_VALUE_TYPE = 2,
    /* TypeProto, TypeProto.Tensor */
    ONNX_TYPE_TENSOR_TYPE = 1,
    ONNX_TENSOR_TYPE_ELEM_TYPE = 1,
    ONNX_TENSOR_TYPE_SHAPE = 2,
    /* TensorShapeProto, TensorShapeProto.Dimension */
    ONNX_SHAPE_DIM = 1,
    ONNX_DIM_VALUE = 1,
    ONNX_DIM_PARAM = 2,
};

#endif
