// One pass of Adam (with gradient clipping, weight decay and bias correction) and the EMA of the
// weights over one parameter, on the tfjs wasm heap: the composite path in src/train/optim.ts and
// ema.ts runs ~12 tfjs ops per parameter, each a full pass over memory. The float operations and
// their order are the composite path's exactly (each op rounded to float, no fused multiply-add),
// so the results are bit-identical to it (test/train/fused-adam.test.ts).
#pragma GCC optimize("fp-contract=off")
#include <napi.h>
#include <cmath>
#include <cstdint>
#include <omp.h>

namespace {

float* at(uint8_t* heap, double off) { return reinterpret_cast<float*>(heap + static_cast<uint64_t>(off)); }

// s: [scale, weightDecay, beta1, 1-beta1, beta2, 1-beta2, bc2, eps, stepSize, emaMode, d, 1-d] as float32 values
// (emaMode 0: no EMA, 1: copy the new weights, 2: blend); dims [n, useScale, useDecay];
// offsets [p, g, m, v, ema, pOut, mOut, vOut, emaOut] (ema, emaOut unused when emaMode is 0).
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  const double* d = info[1].As<Napi::Float64Array>().Data();
  const double* sc = info[2].As<Napi::Float64Array>().Data();
  const double* o = info[3].As<Napi::Float64Array>().Data();
  const int emaMode = static_cast<int>(sc[9]);
  const int64_t n = static_cast<int64_t>(d[0]);
  const double len = static_cast<double>(ab.ByteLength());
  for (int i = 0; i < 9; i++) {
    if (emaMode == 0 && (i == 4 || i == 8)) continue;
    if (ab.Data() == nullptr || o[i] < 0 || o[i] + 4.0 * n > len) {
      Napi::Error::New(info.Env(), "adamStep: wasm heap detached or offset out of range").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
  }
  uint8_t* heap = static_cast<uint8_t*>(ab.Data());
  const bool useScale = d[1] != 0, useDecay = d[2] != 0;
  const float scale = sc[0], wd = sc[1], b1 = sc[2], c1 = sc[3], b2 = sc[4], c2 = sc[5], bc2 = sc[6], eps = sc[7], step = sc[8];
  const float ed = sc[10], ec = sc[11];
  // inputs and outputs are distinct tensors (the kernel allocates the outputs): no aliasing
  const float* __restrict P = at(heap, o[0]); const float* __restrict G = at(heap, o[1]);
  const float* __restrict M = at(heap, o[2]); const float* __restrict V = at(heap, o[3]);
  const float* __restrict E = emaMode ? at(heap, o[4]) : nullptr;
  float* __restrict P1 = at(heap, o[5]); float* __restrict M1 = at(heap, o[6]); float* __restrict V1 = at(heap, o[7]);
  float* __restrict E1 = emaMode ? at(heap, o[8]) : nullptr;
  // A memory-bound pass: threads only pay off on large tensors, and each parallel region is a barrier
  // that stalls when another job holds a core (measured: 2 threads under load 3× slower than 1).
#pragma omp parallel for simd schedule(static) if (n >= (1 << 20))
  for (int64_t i = 0; i < n; i++) {
    const float p = P[i];
    float g = G[i];
    if (useScale) g = g * scale;
    if (useDecay) { const float pd = p * wd; g = g + pd; }
    const float ma = M[i] * b1, mb = g * c1, m1 = ma + mb;
    const float g2 = g * g, va = V[i] * b2, vb = g2 * c2, v1 = va + vb;
    const float q = v1 / bc2, r = std::sqrt(q), den = r + eps, u = m1 / den, du = u * step, p1 = p - du;
    M1[i] = m1; V1[i] = v1; P1[i] = p1;
    if (emaMode == 1) E1[i] = p1;
    else if (emaMode == 2) { const float ea = E[i] * ed, eb = p1 * ec; E1[i] = ea + eb; }
  }
  return info.Env().Undefined();
}

}  // namespace

void RegisterOptim(Napi::Env env, Napi::Object exports) {
  exports.Set("adamStep", Napi::Function::New(env, AdamStep));
}
