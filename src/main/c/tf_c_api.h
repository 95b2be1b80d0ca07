/*
 * The few declarations of TensorFlow's C API the kernels use, copied from TF 2.18's headers
 * (tensorflow/c/c_api.h, tf_status.h, tf_tensor.h, kernels.h, ops.h): TF Java ships the library,
 * not its headers. The library links against TF's soname and binds to the libtensorflow_framework
 * TF Java has already loaded (build.sh).
 */
#ifndef GPT2J_TF_C_API_H
#define GPT2J_TF_C_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct TF_Status TF_Status;
typedef struct TF_Tensor TF_Tensor;
typedef struct TF_KernelBuilder TF_KernelBuilder;
typedef struct TF_OpKernelConstruction TF_OpKernelConstruction;
typedef struct TF_OpKernelContext TF_OpKernelContext;
typedef struct TF_OpDefinitionBuilder TF_OpDefinitionBuilder;
typedef struct TF_ShapeInferenceContext TF_ShapeInferenceContext;
typedef struct TF_ShapeHandle TF_ShapeHandle;
enum { TF_OK = 0, TF_INVALID_ARGUMENT = 3, TF_RESOURCE_EXHAUSTED = 8 };
enum { TF_FLOAT = 1, TF_INT32 = 3 };

extern TF_Status* TF_NewStatus(void);
extern void TF_DeleteStatus(TF_Status*);
extern int TF_GetCode(const TF_Status*);
extern const char* TF_Message(const TF_Status*);
extern void TF_SetStatus(TF_Status*, int code, const char* msg);
extern void* TF_TensorData(const TF_Tensor*);
extern int TF_NumDims(const TF_Tensor*);
extern int64_t TF_Dim(const TF_Tensor*, int);
extern size_t TF_TensorByteSize(const TF_Tensor*);
extern void TF_DeleteTensor(TF_Tensor*);
extern TF_KernelBuilder* TF_NewKernelBuilder(const char* op, const char* device,
                                             void* (*create)(TF_OpKernelConstruction*),
                                             void (*compute)(void*, TF_OpKernelContext*),
                                             void (*destroy)(void*));
extern void TF_RegisterKernelBuilder(const char* name, TF_KernelBuilder*, TF_Status*);
extern int TF_NumInputs(TF_OpKernelContext*);
extern void TF_GetInput(TF_OpKernelContext*, int i, TF_Tensor**, TF_Status*);
extern void TF_GetInputTensorFromVariable(TF_OpKernelContext*, int input, bool lock_held,
                                          bool is_variant, bool sparse,
                                          void (*copy)(TF_OpKernelContext*, TF_Tensor*, TF_Tensor*),
                                          TF_Tensor** out, TF_Status*);
extern TF_Tensor* TF_AllocateOutput(TF_OpKernelContext*, int i, int dtype, const int64_t* dims,
                                    int num_dims, size_t len, TF_Status*);
extern void TF_OpKernelContext_Failure(TF_OpKernelContext*, TF_Status*);
extern TF_OpDefinitionBuilder* TF_NewOpDefinitionBuilder(const char* name);
extern void TF_OpDefinitionBuilderAddAttr(TF_OpDefinitionBuilder*, const char* spec);
extern void TF_OpDefinitionBuilderAddInput(TF_OpDefinitionBuilder*, const char* spec);
extern void TF_OpDefinitionBuilderAddOutput(TF_OpDefinitionBuilder*, const char* spec);
extern void TF_OpDefinitionBuilderSetIsStateful(TF_OpDefinitionBuilder*, bool is_stateful);
extern void TF_OpDefinitionBuilderSetShapeInferenceFunction(TF_OpDefinitionBuilder*,
                                                            void (*fn)(TF_ShapeInferenceContext*,
                                                                       TF_Status*));
extern void TF_RegisterOpDefinition(TF_OpDefinitionBuilder*, TF_Status*);
extern TF_ShapeHandle* TF_NewShapeHandle(void);
extern int64_t TF_ShapeInferenceContextNumInputs(TF_ShapeInferenceContext*);
extern void TF_DeleteShapeHandle(TF_ShapeHandle*);
extern void TF_ShapeInferenceContextGetInput(TF_ShapeInferenceContext*, int i, TF_ShapeHandle*,
                                             TF_Status*);
extern void TF_ShapeInferenceContextWithRank(TF_ShapeInferenceContext*, TF_ShapeHandle*,
                                             int64_t rank, TF_ShapeHandle*, TF_Status*);
extern void TF_ShapeInferenceContextSubshape(TF_ShapeInferenceContext*, TF_ShapeHandle*,
                                             int64_t start, int64_t end, TF_ShapeHandle*,
                                             TF_Status*);
extern void TF_ShapeInferenceContextConcatenateShapes(TF_ShapeInferenceContext*, TF_ShapeHandle*,
                                                      TF_ShapeHandle*, TF_ShapeHandle*, TF_Status*);
extern void TF_ShapeInferenceContextSetOutput(TF_ShapeInferenceContext*, int i, TF_ShapeHandle*,
                                              TF_Status*);

#endif
