// meddiff native kernels: oneDNN (v2.6 API) convolutions and matmuls computed in place on the
// tfjs wasm backend's heap. JS passes the heap (a Uint8Array view or its ArrayBuffer) plus byte
// offsets; nothing here calls back into JS while it holds a pointer into the heap.
//
// Layouts: activations NHWC (format_tag::nhwc on the logical {N,C,H,W} dims), filters HWIO
// (format_tag::hwio on the logical {O,I,KH,KW} dims). Convolution weights use format_tag::any so
// oneDNN picks its fastest blocked layout; the small weight tensor is reordered in (fwd, bwd-data)
// or out (bwd-weights). Primitives and reorders are cached per shape/attribute key.
//
// Inference precision (setPrecision): 'fp32' (default) or 'bf16'. In bf16 mode the FORWARD conv and matmul
// primitives take bf16 source and weights and accumulate and write f32 (dst, bias and post-ops stay f32).
// The conversion is explicit: oneDNN 2.6.3 ignores primitive_attr::set_fpmath_mode(bf16) on avx512_core_bf16
// (impl_info_str() stays 'brgconv:avx512_core' / 'brg:avx512_core', f32), while bf16 memory descriptors
// get 'brgconv:avx512_core_bf16' / 'brg:avx512_core_bf16'. Backward kernels (training) always run f32.

#include <napi.h>

void RegisterFused(Napi::Env env, Napi::Object exports);  // fused.cc
void RegisterTransformer(Napi::Env env, Napi::Object exports);  // transformer.cc
void RegisterOptim(Napi::Env env, Napi::Object exports);  // optim.cc
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;

namespace {

using dims = memory::dims;
using tag = memory::format_tag;
using dt = memory::data_type;
using Key = std::vector<int64_t>;

// Activation codes (must match ACT_CODES in src/runtime/native.ts).
enum Act { A_LINEAR = 0, A_RELU = 1, A_RELU6 = 2, A_PRELU = 3, A_LEAKY = 4, A_SIGMOID = 5, A_ELU = 6 };

engine& eng() {
  static engine e(engine::kind::cpu, 0);
  return e;
}
stream& strm() {
  static stream s(eng());
  return s;
}

std::string g_lastImpl;

// ---------------------------------------------------------------------------------------------
// Inference precision

enum class Precision : int64_t { FP32 = 0, BF16 = 1 };
Precision g_precision = Precision::FP32;

// bf16 dot products need AVX512_BF16; get_effective_cpu_isa() honours DNNL_MAX_CPU_ISA (used by the tests).
bool hasBf16Isa() {
  const cpu_isa isa = get_effective_cpu_isa();
  return isa == cpu_isa::avx512_core_bf16 || isa == cpu_isa::avx512_core_amx;
}

// Grow-only 64-byte aligned buffers for the bf16 copies of activations (one conversion in flight at a
// time: calls are synchronous and never re-enter). Kept out of the per-shape caches, whose entries would
// otherwise each hold a batch-sized copy.
struct Scratch {
  void* p = nullptr;
  size_t cap = 0;
  void* get(size_t bytes) {
    if (bytes > cap) {
      std::free(p);
      cap = 0;
      p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
      if (!p) throw std::bad_alloc();
      cap = (bytes + 63) / 64 * 64;
    }
    return p;
  }
  void release() {
    std::free(p);
    p = nullptr;
    cap = 0;
  }
};
Scratch g_bfA, g_bfB;  // conv src / matmul a; matmul b

// f32 -> bf16 (round to nearest even) of `from` into scratch `sc`, by a cached reorder; returns the bf16 memory.
memory toBf16(stream& s, const reorder& r, const memory& from, const memory::desc& bfDesc, Scratch& sc) {
  memory to(bfDesc, eng(), sc.get(bfDesc.get_size()));
  r.execute(s, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
  return to;
}

// ---------------------------------------------------------------------------------------------
// Argument helpers

struct Heap {
  uint8_t* base = nullptr;
  size_t len = 0;
  float* f32(double off, int64_t nelem, const char* what) const {
    if (!(off >= 0) || off != std::floor(off)) throw std::range_error(std::string("bad offset for ") + what);
    const uint64_t o = static_cast<uint64_t>(off);
    if (o % 4 != 0) throw std::range_error(std::string("misaligned offset for ") + what);
    if (nelem < 0 || o + static_cast<uint64_t>(nelem) * 4 > len)
      throw std::range_error(std::string("tensor out of heap bounds: ") + what);
    return reinterpret_cast<float*>(base + o);
  }
};

Heap getHeap(const Napi::Value& v) {
  Heap h;
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_value ab;
    size_t byteOffset;
    if (napi_get_typedarray_info(v.Env(), ta, &type, &length, &data, &ab, &byteOffset) != napi_ok)
      throw std::invalid_argument("heap: cannot read typed array");
    h.base = static_cast<uint8_t*>(data);
    h.len = ta.ByteLength();
  } else if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    h.base = static_cast<uint8_t*>(ab.Data());
    h.len = ab.ByteLength();
  } else {
    throw std::invalid_argument("heap must be an ArrayBuffer or a typed array");
  }
  if (h.base == nullptr && h.len > 0) throw std::invalid_argument("heap is detached");
  return h;
}

std::vector<double> getNums(const Napi::Value& v, const char* what) {
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_float64_array) {
      auto a = v.As<Napi::Float64Array>();
      return std::vector<double>(a.Data(), a.Data() + a.ElementLength());
    }
    if (ta.TypedArrayType() == napi_int32_array) {
      auto a = v.As<Napi::Int32Array>();
      return std::vector<double>(a.Data(), a.Data() + a.ElementLength());
    }
  }
  if (v.IsArray()) {
    auto a = v.As<Napi::Array>();
    std::vector<double> out(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) out[i] = a.Get(i).As<Napi::Number>().DoubleValue();
    return out;
  }
  throw std::invalid_argument(std::string(what) + " must be a Float64Array, Int32Array or array");
}

int64_t prod(const dims& d, size_t from = 0, size_t to = SIZE_MAX) {
  int64_t p = 1;
  for (size_t i = from; i < d.size() && i < to; ++i) p *= d[i];
  return p;
}

// ---------------------------------------------------------------------------------------------
// Epilogue (bias + activation). Layout of the descriptor from JS:
//   [act, alpha, rank, hasBias, biasDims x rank, hasPrelu, preluDims x rank]
// Bias / prelu dims are already left-padded with 1s to the output rank and each is 1 or equal to
// the output dim (numpy broadcasting).

struct Epilogue {
  int act = A_LINEAR;
  float alpha = 0.f;
  dims bias;   // empty: none
  dims prelu;  // empty: none
  bool any() const { return act != A_LINEAR || !bias.empty(); }
};

Epilogue parseEpilogue(const std::vector<double>& e, size_t outRank) {
  Epilogue ep;
  if (e.empty()) return ep;
  if (e.size() < 3) throw std::invalid_argument("epilogue descriptor too short");
  ep.act = static_cast<int>(e[0]);
  ep.alpha = static_cast<float>(e[1]);
  const size_t r = static_cast<size_t>(e[2]);
  if (r != outRank) throw std::invalid_argument("epilogue rank mismatch");
  size_t i = 3;
  auto need = [&](size_t n) {
    if (i + n > e.size()) throw std::invalid_argument("epilogue descriptor too short");
  };
  need(1);
  if (e[i++] != 0) {
    need(r);
    for (size_t k = 0; k < r; ++k) ep.bias.push_back(static_cast<int64_t>(e[i++]));
  }
  need(1);
  if (e[i++] != 0) {
    need(r);
    for (size_t k = 0; k < r; ++k) ep.prelu.push_back(static_cast<int64_t>(e[i++]));
  }
  if (ep.act < A_LINEAR || ep.act > A_ELU) throw std::invalid_argument("unknown activation code");
  if (ep.act == A_PRELU && ep.prelu.empty()) throw std::invalid_argument("prelu activation needs weights");
  return ep;
}

void keyEpilogue(Key& k, const Epilogue& ep) {
  k.push_back(ep.act);
  int32_t bits;
  std::memcpy(&bits, &ep.alpha, 4);
  k.push_back(bits);
  k.push_back(static_cast<int64_t>(ep.bias.size()));
  k.insert(k.end(), ep.bias.begin(), ep.bias.end());
  k.push_back(static_cast<int64_t>(ep.prelu.size()));
  k.insert(k.end(), ep.prelu.begin(), ep.prelu.end());
}

// Row-major strides of `d` interpreted as a broadcast of `out` (0 where d[i]==1 < out[i]).
std::vector<int64_t> bcastStrides(const dims& d, const dims& out) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t st = 1;
  for (size_t i = d.size(); i-- > 0;) {
    s[i] = (d[i] == 1 && out[i] != 1) ? 0 : st;
    st *= d[i];
  }
  return s;
}

inline float activate(float v, int act, float alpha, float pw) {
  switch (act) {
    case A_RELU: return v > 0.f ? v : 0.f;
    case A_RELU6: return v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
    case A_PRELU: return v < 0.f ? pw * v : v;
    case A_LEAKY: return v < 0.f ? alpha * v : v;
    case A_SIGMOID: return 1.f / (1.f + std::exp(-v));
    case A_ELU: return v >= 0.f ? v : std::exp(v) - 1.f;
    default: return v;
  }
}

// Generic epilogue in C++ (used when oneDNN post-ops cannot express it).
void applyEpilogue(float* y, const dims& ydims, const Epilogue& ep, const float* bias, const float* prelu,
                   bool doBias) {
  const size_t R = ydims.size();
  const int64_t L = ydims[R - 1];
  const int64_t rows = prod(ydims, 0, R - 1);
  const bool hasB = doBias && bias && !ep.bias.empty();
  const bool hasP = ep.act == A_PRELU && prelu;
  std::vector<int64_t> bs = hasB ? bcastStrides(ep.bias, ydims) : std::vector<int64_t>(R, 0);
  std::vector<int64_t> ps = hasP ? bcastStrides(ep.prelu, ydims) : std::vector<int64_t>(R, 0);
  const int act = ep.act;
  const float alpha = ep.alpha;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, bo = 0, po = 0;
    for (size_t d = R - 1; d-- > 0;) {
      const int64_t i = rem % ydims[d];
      rem /= ydims[d];
      bo += i * bs[d];
      po += i * ps[d];
    }
    float* row = y + r * L;
    const int64_t bl = bs[R - 1], pl = ps[R - 1];
    for (int64_t j = 0; j < L; ++j) {
      float v = row[j];
      if (hasB) v += bias[bo + j * bl];
      row[j] = activate(v, act, alpha, hasP ? prelu[po + j * pl] : 0.f);
    }
  }
}

// Appends the activation as a oneDNN eltwise post-op; false if it cannot be expressed.
bool appendEltwise(post_ops& po, const Epilogue& ep) {
  switch (ep.act) {
    case A_LINEAR: return true;
    case A_RELU: po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f); return true;
    case A_LEAKY: po.append_eltwise(1.f, algorithm::eltwise_relu, ep.alpha, 0.f); return true;
    case A_RELU6: po.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, 6.f); return true;
    case A_ELU: po.append_eltwise(1.f, algorithm::eltwise_elu, 1.f, 0.f); return true;
    case A_SIGMOID: po.append_eltwise(1.f, algorithm::eltwise_logistic, 0.f, 0.f); return true;
    default: return false;  // prelu: done in C++
  }
}

// ---------------------------------------------------------------------------------------------
// Caches

constexpr size_t kMaxCache = 1024;
template <class T>
struct Cache {
  std::map<Key, std::unique_ptr<T>> m;
  T* get(const Key& k) {
    auto it = m.find(k);
    return it == m.end() ? nullptr : it->second.get();
  }
  T* put(const Key& k, std::unique_ptr<T> v) {
    if (m.size() >= kMaxCache) m.clear();
    T* p = v.get();
    m[k] = std::move(v);
    return p;
  }
};

// ---------------------------------------------------------------------------------------------
// Convolution

// Geometry from JS: N,IH,IW,Ci,KH,KW,Co,OH,OW,sh,sw,dh,dw,pt,pl,pb,pr (dh/dw: tf dilation factors).
struct ConvGeom {
  int64_t N, IH, IW, Ci, KH, KW, Co, OH, OW, sh, sw, dh, dw, pt, pl, pb, pr;
  memory::desc src(dt t = dt::f32) const { return memory::desc({N, Ci, IH, IW}, t, tag::nhwc); }
  memory::desc dst() const { return memory::desc({N, Co, OH, OW}, dt::f32, tag::nhwc); }
  memory::desc wAny(dt t = dt::f32) const { return memory::desc({Co, Ci, KH, KW}, t, tag::any); }
  memory::desc wUser() const { return memory::desc({Co, Ci, KH, KW}, dt::f32, tag::hwio); }
  dims strides() const { return {sh, sw}; }
  dims dil() const { return {dh - 1, dw - 1}; }
  dims padL() const { return {pt, pl}; }
  dims padR() const { return {pb, pr}; }
  int64_t xSize() const { return N * IH * IW * Ci; }
  int64_t ySize() const { return N * OH * OW * Co; }
  int64_t wSize() const { return KH * KW * Ci * Co; }
  void push(Key& k) const {
    for (int64_t v : {N, IH, IW, Ci, KH, KW, Co, OH, OW, sh, sw, dh, dw, pt, pl, pb, pr}) k.push_back(v);
  }
};

ConvGeom parseGeom(const std::vector<double>& g) {
  if (g.size() != 17) throw std::invalid_argument("conv geometry must have 17 entries");
  int64_t v[17];
  for (int i = 0; i < 17; ++i) {
    v[i] = static_cast<int64_t>(g[i]);
    if (static_cast<double>(v[i]) != g[i]) throw std::invalid_argument("conv geometry must be integers");
  }
  ConvGeom c{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16]};
  for (int i = 0; i < 13; ++i)
    if (v[i] < 1) throw std::invalid_argument("conv geometry: sizes, strides and dilations must be >= 1");
  return c;
}

// `in`: data type of src and weights (f32, or bf16 for bf16 inference: then forward_inference). dst is f32.
convolution_forward::desc fwdDesc(const ConvGeom& g, const memory::desc& bias, dt in = dt::f32) {
  const prop_kind pk = in == dt::f32 ? prop_kind::forward_training : prop_kind::forward_inference;
  return convolution_forward::desc(pk, algorithm::convolution_direct, g.src(in), g.wAny(in), bias, g.dst(),
                                   g.strides(), g.dil(), g.padL(), g.padR());
}

struct WeightsIn {  // user hwio -> primitive's layout
  bool needed = false;
  reorder r;
  memory opt;
  void init(const memory::desc& user, const memory::desc& want) {
    needed = user != want;
    if (needed) {
      opt = memory(want, eng());
      r = reorder(reorder::primitive_desc(eng(), user, eng(), want));
    }
  }
};

struct ConvFwd {
  convolution_forward::primitive_desc pd;
  convolution_forward prim;
  WeightsIn w;          // hwio f32 -> the primitive's layout (and bf16 in bf16 mode)
  bool fused = false;  // bias + activation done by oneDNN
  bool bf16 = false;   // src/weights bf16 (bf16 mode and oneDNN had a primitive for it)
  reorder srcToBf;     // nhwc f32 -> nhwc bf16
};

struct ConvBwdData {
  convolution_backward_data::primitive_desc pd;
  convolution_backward_data prim;
  WeightsIn w;
};

struct ConvBwdWeights {
  convolution_backward_weights::primitive_desc pd;
  convolution_backward_weights prim;
  bool reorderOut = false;
  reorder r;
  memory opt;
};

Cache<ConvFwd> g_convFwd;
Cache<ConvBwdData> g_convBwdData;
Cache<ConvBwdWeights> g_convBwdWeights;

// Per-channel bias: dims [1,1,1,Co] (NHWC, left-padded).
bool perChannel(const dims& b, int64_t Co) {
  return b.size() == 4 && b[0] == 1 && b[1] == 1 && b[2] == 1 && b[3] == Co;
}

// Builds e's primitive_desc for src/weights of type `in` (fused epilogue when oneDNN can express it).
void buildConvFwd(ConvFwd& e, const ConvGeom& g, const Epilogue& ep, dt in) {
  bool built = false;
  const bool biasOk = ep.bias.empty() || perChannel(ep.bias, g.Co);
  if (ep.any() && ep.act != A_PRELU && biasOk) {
    try {
      memory::desc bmd = ep.bias.empty() ? memory::desc() : memory::desc({g.Co}, dt::f32, tag::x);
      post_ops po;
      appendEltwise(po, ep);
      primitive_attr attr;
      attr.set_post_ops(po);
      e.pd = convolution_forward::primitive_desc(fwdDesc(g, bmd, in), attr, eng());
      e.fused = true;
      built = true;
    } catch (const dnnl::error&) {
      built = false;
    }
  }
  if (!built) {
    e.pd = convolution_forward::primitive_desc(fwdDesc(g, memory::desc(), in), eng());
    e.fused = false;
  }
}

ConvFwd* getConvFwd(const ConvGeom& g, const Epilogue& ep) {
  Key k{0, static_cast<int64_t>(g_precision)};
  g.push(k);
  keyEpilogue(k, ep);
  if (ConvFwd* e = g_convFwd.get(k)) return e;
  auto e = std::make_unique<ConvFwd>();
  e->bf16 = false;
  if (g_precision == Precision::BF16) {
    try {
      buildConvFwd(*e, g, ep, dt::bf16);
      e->bf16 = true;
      e->srcToBf = reorder(reorder::primitive_desc(eng(), g.src(), eng(), e->pd.src_desc()));
    } catch (const dnnl::error&) {
      e->bf16 = false;  // no bf16 primitive for this geometry: this shape stays f32 (lastImpl shows it)
    }
  }
  if (!e->bf16) buildConvFwd(*e, g, ep, dt::f32);
  e->prim = convolution_forward(e->pd);
  e->w.init(g.wUser(), e->pd.weights_desc());
  return g_convFwd.put(k, std::move(e));
}

ConvBwdData* getConvBwdData(const ConvGeom& g) {
  Key k{1};
  g.push(k);
  if (ConvBwdData* e = g_convBwdData.get(k)) return e;
  auto e = std::make_unique<ConvBwdData>();
  convolution_forward::primitive_desc hint(fwdDesc(g, memory::desc()), eng());
  convolution_backward_data::desc d(algorithm::convolution_direct, g.src(), g.wAny(), g.dst(), g.strides(), g.dil(),
                                    g.padL(), g.padR());
  e->pd = convolution_backward_data::primitive_desc(d, eng(), hint);
  e->prim = convolution_backward_data(e->pd);
  e->w.init(g.wUser(), e->pd.weights_desc());
  return g_convBwdData.put(k, std::move(e));
}

ConvBwdWeights* getConvBwdWeights(const ConvGeom& g) {
  Key k{2};
  g.push(k);
  if (ConvBwdWeights* e = g_convBwdWeights.get(k)) return e;
  auto e = std::make_unique<ConvBwdWeights>();
  convolution_forward::primitive_desc hint(fwdDesc(g, memory::desc()), eng());
  convolution_backward_weights::desc d(algorithm::convolution_direct, g.src(), g.wAny(), g.dst(), g.strides(),
                                       g.dil(), g.padL(), g.padR());
  e->pd = convolution_backward_weights::primitive_desc(d, eng(), hint);
  e->prim = convolution_backward_weights(e->pd);
  const memory::desc want = e->pd.diff_weights_desc();
  e->reorderOut = want != g.wUser();
  if (e->reorderOut) {
    e->opt = memory(want, eng());
    e->r = reorder(reorder::primitive_desc(eng(), want, eng(), g.wUser()));
  }
  return g_convBwdWeights.put(k, std::move(e));
}

// conv2d(kind, heap, geom, offsets, epilogue?)
//   kind 0 forward:        offsets [x, w, y, bias, prelu]  (bias/prelu ignored unless in epilogue)
//   kind 1 backward-data:  offsets [dy, w, dx]
//   kind 2 backward-filter: offsets [x, dy, dw]
void convImpl(int kind, const Heap& h, const ConvGeom& g, const std::vector<double>& off,
              const std::vector<double>& epiDesc) {
  stream& s = strm();
  if (kind == 0) {
    if (off.size() < 3) throw std::invalid_argument("conv2d forward needs 3 offsets");
    Epilogue ep = parseEpilogue(epiDesc, 4);
    float* x = h.f32(off[0], g.xSize(), "x");
    float* w = h.f32(off[1], g.wSize(), "filter");
    float* y = h.f32(off[2], g.ySize(), "y");
    const dims ydims{g.N, g.OH, g.OW, g.Co};
    float* bias = nullptr;
    float* prelu = nullptr;
    if (!ep.bias.empty()) {
      if (off.size() < 4) throw std::invalid_argument("conv2d forward: missing bias offset");
      bias = h.f32(off[3], prod(ep.bias), "bias");
    }
    if (!ep.prelu.empty()) {
      if (off.size() < 5) throw std::invalid_argument("conv2d forward: missing prelu offset");
      prelu = h.f32(off[4], prod(ep.prelu), "preluActivationWeights");
    }
    ConvFwd* e = getConvFwd(g, ep);
    memory xm(g.src(), eng(), x), wm(g.wUser(), eng(), w), ym(g.dst(), eng(), y);
    // The weights are reordered (and converted to bf16) on every call into the entry's cached buffer: a
    // heap offset says nothing about the contents (tfjs reuses freed memory), so they cannot be kept.
    if (e->w.needed) e->w.r.execute(s, {{DNNL_ARG_FROM, wm}, {DNNL_ARG_TO, e->w.opt}});
    if (e->bf16) xm = toBf16(s, e->srcToBf, xm, e->pd.src_desc(), g_bfA);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, e->w.needed ? e->w.opt : wm},
                                         {DNNL_ARG_DST, ym}};
    if (e->fused && bias) args.insert({DNNL_ARG_BIAS, memory(memory::desc({g.Co}, dt::f32, tag::x), eng(), bias)});
    e->prim.execute(s, args);
    s.wait();
    g_lastImpl = e->pd.impl_info_str();
    if (!e->fused && ep.any()) applyEpilogue(y, ydims, ep, bias, prelu, true);
  } else if (kind == 1) {
    if (off.size() < 3) throw std::invalid_argument("conv2d backward-data needs 3 offsets");
    float* dy = h.f32(off[0], g.ySize(), "dy");
    float* w = h.f32(off[1], g.wSize(), "filter");
    float* dx = h.f32(off[2], g.xSize(), "dx");
    ConvBwdData* e = getConvBwdData(g);
    memory dym(g.dst(), eng(), dy), wm(g.wUser(), eng(), w), dxm(g.src(), eng(), dx);
    if (e->w.needed) e->w.r.execute(s, {{DNNL_ARG_FROM, wm}, {DNNL_ARG_TO, e->w.opt}});
    e->prim.execute(s, {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_WEIGHTS, e->w.needed ? e->w.opt : wm},
                        {DNNL_ARG_DIFF_SRC, dxm}});
    s.wait();
    g_lastImpl = e->pd.impl_info_str();
  } else if (kind == 2) {
    if (off.size() < 3) throw std::invalid_argument("conv2d backward-filter needs 3 offsets");
    float* x = h.f32(off[0], g.xSize(), "x");
    float* dy = h.f32(off[1], g.ySize(), "dy");
    float* dw = h.f32(off[2], g.wSize(), "dw");
    ConvBwdWeights* e = getConvBwdWeights(g);
    memory xm(g.src(), eng(), x), dym(g.dst(), eng(), dy), dwm(g.wUser(), eng(), dw);
    e->prim.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, dym},
                        {DNNL_ARG_DIFF_WEIGHTS, e->reorderOut ? e->opt : dwm}});
    if (e->reorderOut) e->r.execute(s, {{DNNL_ARG_FROM, e->opt}, {DNNL_ARG_TO, dwm}});
    s.wait();
    g_lastImpl = e->pd.impl_info_str();
  } else {
    throw std::invalid_argument("conv2d: kind must be 0, 1 or 2");
  }
}

// ---------------------------------------------------------------------------------------------
// Matmul (batched, broadcast batch dims, transposes via strides)

struct Matmul {
  matmul::primitive_desc pd;
  matmul prim;
  memory::desc a, b, c, bias;  // a, b: the stored f32 operands
  bool fused = false;
  bool bf16 = false;           // bf16 mode: a and b converted (same strides) to aBf, bBf
  memory::desc aBf, bBf;
  reorder aToBf, bToBf;
};
Cache<Matmul> g_matmul;

// Logical {batch..., rows, cols} desc of a row-major stored matrix, transposed via strides.
memory::desc matDesc(const dims& stored, bool trans, dt t = dt::f32) {
  const size_t R = stored.size();
  dims logical = stored, strides(R);
  int64_t st = 1;
  for (size_t i = R; i-- > 0;) {
    strides[i] = st;
    st *= stored[i];
  }
  if (trans) {
    std::swap(logical[R - 2], logical[R - 1]);
    std::swap(strides[R - 2], strides[R - 1]);
  }
  return memory::desc(logical, t, strides);
}

// Builds e's primitive_desc with operands `a`, `b` (f32 or bf16 descs); the fused epilogue when expressible.
void buildMatmul(Matmul& e, const memory::desc& a, const memory::desc& b, const Epilogue& ep, size_t R) {
  bool built = false;
  if (ep.any() && ep.act != A_PRELU) {
    try {
      post_ops po;
      appendEltwise(po, ep);
      primitive_attr attr;
      attr.set_post_ops(po);
      if (!ep.bias.empty()) {
        dims st(R);
        int64_t s = 1;
        for (size_t i = R; i-- > 0;) {
          st[i] = s;
          s *= ep.bias[i];
        }
        e.bias = memory::desc(ep.bias, dt::f32, st);
      }
      matmul::desc d = ep.bias.empty() ? matmul::desc(a, b, e.c) : matmul::desc(a, b, e.bias, e.c);
      e.pd = matmul::primitive_desc(d, attr, eng());
      e.fused = true;
      built = true;
    } catch (const dnnl::error&) {
      built = false;
    }
  }
  if (!built) {
    e.pd = matmul::primitive_desc(matmul::desc(a, b, e.c), eng());
    e.fused = false;
  }
}

Matmul* getMatmul(const dims& aS, bool ta, const dims& bS, bool tb, const Epilogue& ep) {
  Key k{3, static_cast<int64_t>(g_precision), static_cast<int64_t>(aS.size()), ta, tb};
  k.insert(k.end(), aS.begin(), aS.end());
  k.insert(k.end(), bS.begin(), bS.end());
  keyEpilogue(k, ep);
  if (Matmul* e = g_matmul.get(k)) return e;
  auto e = std::make_unique<Matmul>();
  const size_t R = aS.size();
  e->a = matDesc(aS, ta);
  e->b = matDesc(bS, tb);
  dims cd(R);
  const dims& al = e->a.dims();
  const dims& bl = e->b.dims();
  for (size_t i = 0; i + 2 < R; ++i) cd[i] = std::max(al[i], bl[i]);
  cd[R - 2] = al[R - 2];
  cd[R - 1] = bl[R - 1];
  {
    // plain row-major dst
    dims st(R);
    int64_t s = 1;
    for (size_t i = R; i-- > 0;) {
      st[i] = s;
      s *= cd[i];
    }
    e->c = memory::desc(cd, dt::f32, st);
  }
  e->bf16 = false;
  if (g_precision == Precision::BF16) {
    try {
      e->aBf = matDesc(aS, ta, dt::bf16);
      e->bBf = matDesc(bS, tb, dt::bf16);
      buildMatmul(*e, e->aBf, e->bBf, ep, R);
      e->aToBf = reorder(reorder::primitive_desc(eng(), e->a, eng(), e->aBf));
      e->bToBf = reorder(reorder::primitive_desc(eng(), e->b, eng(), e->bBf));
      e->bf16 = true;
    } catch (const dnnl::error&) {
      e->bf16 = false;  // this shape stays f32
    }
  }
  if (!e->bf16) buildMatmul(*e, e->a, e->b, ep, R);
  e->prim = matmul(e->pd);
  return g_matmul.put(k, std::move(e));
}

// matmul(heap, aShape, bShape, transA, transB, offsets [a, b, c, bias, prelu], epilogue?)
// aShape/bShape: stored shapes, same rank >= 2, batch dims each 1 or equal (broadcast).
void matmulImpl(const Heap& h, const dims& aS, const dims& bS, bool ta, bool tb, const std::vector<double>& off,
                const std::vector<double>& epiDesc) {
  const size_t R = aS.size();
  if (R < 2 || bS.size() != R) throw std::invalid_argument("matmul: shapes must have the same rank >= 2");
  for (size_t i = 0; i < R; ++i)
    if (aS[i] < 1 || bS[i] < 1) throw std::invalid_argument("matmul: dims must be >= 1");
  for (size_t i = 0; i + 2 < R; ++i)
    if (aS[i] != bS[i] && aS[i] != 1 && bS[i] != 1) throw std::invalid_argument("matmul: batch dims do not broadcast");
  const int64_t K1 = ta ? aS[R - 2] : aS[R - 1], K2 = tb ? bS[R - 1] : bS[R - 2];
  if (K1 != K2) throw std::invalid_argument("matmul: inner dims do not match");
  if (off.size() < 3) throw std::invalid_argument("matmul needs 3 offsets");
  Epilogue ep = parseEpilogue(epiDesc, R);
  Matmul* e = getMatmul(aS, ta, bS, tb, ep);
  const dims cd = e->c.dims();
  float* a = h.f32(off[0], prod(aS), "a");
  float* b = h.f32(off[1], prod(bS), "b");
  float* c = h.f32(off[2], prod(cd), "out");
  float* bias = nullptr;
  float* prelu = nullptr;
  if (!ep.bias.empty()) {
    if (off.size() < 4) throw std::invalid_argument("matmul: missing bias offset");
    for (size_t i = 0; i < R; ++i)
      if (ep.bias[i] != 1 && ep.bias[i] != cd[i]) throw std::invalid_argument("matmul: bias does not broadcast");
    bias = h.f32(off[3], prod(ep.bias), "bias");
  }
  if (!ep.prelu.empty()) {
    if (off.size() < 5) throw std::invalid_argument("matmul: missing prelu offset");
    for (size_t i = 0; i < R; ++i)
      if (ep.prelu[i] != 1 && ep.prelu[i] != cd[i]) throw std::invalid_argument("matmul: prelu weights do not broadcast");
    prelu = h.f32(off[4], prod(ep.prelu), "preluActivationWeights");
  }
  stream& s = strm();
  memory am(e->a, eng(), a), bm(e->b, eng(), b);
  if (e->bf16) {
    am = toBf16(s, e->aToBf, am, e->aBf, g_bfA);
    bm = toBf16(s, e->bToBf, bm, e->bBf, g_bfB);
  }
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, memory(e->c, eng(), c)}};
  if (e->fused && bias) args.insert({DNNL_ARG_BIAS, memory(e->bias, eng(), bias)});
  e->prim.execute(s, args);
  s.wait();
  g_lastImpl = e->pd.impl_info_str();
  if (!e->fused && ep.any()) applyEpilogue(c, cd, ep, bias, prelu, true);
}

// ---------------------------------------------------------------------------------------------
// N-API glue

void clearCaches() {
  g_convFwd.m.clear();
  g_convBwdData.m.clear();
  g_convBwdWeights.m.clear();
  g_matmul.m.clear();
  g_bfA.release();
  g_bfB.release();
}

template <class F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& f) {
  Napi::Env env = info.Env();
  try {
    return f();
  } catch (const dnnl::error& e) {
    Napi::Error::New(env, std::string("oneDNN: ") + e.what() + " (status " + std::to_string(e.status) + ")")
        .ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    Napi::Error::New(env, std::string("meddiff_native: ") + e.what()).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

const char* isaName(cpu_isa isa) {
  switch (isa) {
    case cpu_isa::sse41: return "sse41";
    case cpu_isa::avx: return "avx";
    case cpu_isa::avx2: return "avx2";
    case cpu_isa::avx2_vnni: return "avx2_vnni";
    case cpu_isa::avx512_mic: return "avx512_mic";
    case cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case cpu_isa::avx512_core: return "avx512_core";
    case cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case cpu_isa::all: return "all";
    default: return "unknown";
  }
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const dnnl_version_t* v = dnnl_version();
    Napi::Object o = Napi::Object::New(env);
    o.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
    o.Set("onednnHash", v->hash ? v->hash : "");
    const char* rt = v->cpu_runtime == DNNL_RUNTIME_OMP ? "openmp"
                     : v->cpu_runtime == DNNL_RUNTIME_TBB ? "tbb"
                     : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential"
                                                          : "other";
    o.Set("cpuRuntime", rt);
    o.Set("isa", isaName(get_effective_cpu_isa()));
    o.Set("ompMaxThreads", std::to_string(omp_get_max_threads()));
    o.Set("ompNumProcs", std::to_string(omp_get_num_procs()));
    o.Set("napi", std::to_string(NAPI_VERSION));
    o.Set("bf16", hasBf16Isa() ? "yes" : "no");
    return o;
  });
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) throw std::invalid_argument("setThreads(n): n must be a number");
    const int n = info[0].As<Napi::Number>().Int32Value();
    if (n < 1) throw std::invalid_argument("setThreads(n): n must be >= 1");
    if (n != omp_get_max_threads()) {
      omp_set_num_threads(n);
      clearCaches();  // primitives are tuned for the thread count they were created with
    }
    return Napi::Number::New(info.Env(), omp_get_max_threads());
  });
}

const char* precisionName(Precision p) { return p == Precision::BF16 ? "bf16" : "fp32"; }

// setPrecision('fp32' | 'bf16'): the inference precision of forward conv/matmul; returns the mode now active.
// bf16 is refused (error, mode unchanged) where the CPU has no bf16 ISA: converting to bf16 there would run
// oneDNN's slow reference kernels, i.e. lose accuracy and speed at once.
Napi::Value SetPrecision(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) throw std::invalid_argument("setPrecision(mode): mode must be 'fp32' or 'bf16'");
    const std::string m = info[0].As<Napi::String>().Utf8Value();
    if (m == "fp32") {
      g_precision = Precision::FP32;
    } else if (m == "bf16") {
      if (!hasBf16Isa())
        throw std::runtime_error(std::string("precision bf16 needs a CPU with AVX512_BF16 (oneDNN ISA avx512_core_bf16 or "
                                             "avx512_core_amx); this CPU's is ") + isaName(get_effective_cpu_isa()) +
                                 ". Use precision fp32");
      g_precision = Precision::BF16;
    } else {
      throw std::invalid_argument("setPrecision: unknown mode '" + m + "'; allowed: fp32, bf16");
    }
    return Napi::String::New(info.Env(), precisionName(g_precision));
  });
}

Napi::Value GetPrecision(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), precisionName(g_precision));
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 4) throw std::invalid_argument("conv2d(kind, heap, geom, offsets, epilogue?)");
    const int kind = info[0].As<Napi::Number>().Int32Value();
    Heap h = getHeap(info[1]);
    ConvGeom g = parseGeom(getNums(info[2], "geom"));
    std::vector<double> off = getNums(info[3], "offsets");
    std::vector<double> epi;
    if (info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull()) epi = getNums(info[4], "epilogue");
    convImpl(kind, h, g, off, epi);
    return info.Env().Undefined();
  });
}

Napi::Value Matmul_(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 6) throw std::invalid_argument("matmul(heap, aShape, bShape, transA, transB, offsets, epilogue?)");
    Heap h = getHeap(info[0]);
    std::vector<double> ad = getNums(info[1], "aShape"), bd = getNums(info[2], "bShape");
    dims aS(ad.begin(), ad.end()), bS(bd.begin(), bd.end());
    const bool ta = info[3].ToBoolean().Value(), tb = info[4].ToBoolean().Value();
    std::vector<double> off = getNums(info[5], "offsets");
    std::vector<double> epi;
    if (info.Length() > 6 && !info[6].IsUndefined() && !info[6].IsNull()) epi = getNums(info[6], "epilogue");
    matmulImpl(h, aS, bS, ta, tb, off, epi);
    return info.Env().Undefined();
  });
}

// benchSgemm(n, reps): GFLOP/s of dnnl_sgemm on n x n x n (best of reps after one warm-up).
Napi::Value BenchSgemm(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const int64_t n = info.Length() > 0 ? info[0].As<Napi::Number>().Int64Value() : 2048;
    const int reps = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 3;
    if (n < 1 || n > 8192 || reps < 1) throw std::invalid_argument("benchSgemm(n in 1..8192, reps >= 1)");
    std::vector<float> A(n * n), B(n * n), C(n * n);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (auto& v : A) v = u(rng);
    for (auto& v : B) v = u(rng);
    auto run = [&]() {
      if (dnnl_sgemm('N', 'N', n, n, n, 1.f, A.data(), n, B.data(), n, 0.f, C.data(), n) != dnnl_success)
        throw std::runtime_error("dnnl_sgemm failed");
    };
    run();
    double best = 0;
    for (int r = 0; r < reps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      run();
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, 2.0 * n * n * n / sec / 1e9);
    }
    return Napi::Number::New(info.Env(), best);
  });
}

Napi::Value LastImpl(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), g_lastImpl); }

Napi::Value ClearCache(const Napi::CallbackInfo& info) {
  clearCaches();
  return info.Env().Undefined();
}

Napi::Value CacheSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_convFwd.m.size() + g_convBwdData.m.size() +
                                                           g_convBwdWeights.m.size() + g_matmul.m.size()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterFused(env, exports);
  RegisterTransformer(env, exports);
  RegisterOptim(env, exports);
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("setPrecision", Napi::Function::New(env, SetPrecision));
  exports.Set("getPrecision", Napi::Function::New(env, GetPrecision));
  exports.Set("conv2d", Napi::Function::New(env, Conv2d));
  exports.Set("matmul", Napi::Function::New(env, Matmul_));
  exports.Set("benchSgemm", Napi::Function::New(env, BenchSgemm));
  exports.Set("lastImpl", Napi::Function::New(env, LastImpl));
  exports.Set("clearCache", Napi::Function::New(env, ClearCache));
  exports.Set("cacheSize", Napi::Function::New(env, CacheSize));
  return exports;
}

}  // namespace

NODE_API_MODULE(meddiff_native, Init)
