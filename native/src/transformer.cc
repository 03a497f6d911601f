// Fused LayerNorm with DiT's adaptive modulation (adaLN), GELU (tanh approximation) and the gated
// residual x + gate·h, forward and backward, on the tfjs wasm heap. Same math as the *Js functions
// in src/runtime/transformer.ts, which the tests compare against composite tfjs ops.
// The tanh clamp's compares may not trap for the loops to vectorise; nothing here reads FP exceptions.
#pragma GCC optimize("no-trapping-math")
#include <napi.h>
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <vector>
#include <omp.h>

namespace {

float* at(uint8_t* heap, double off) { return reinterpret_cast<float*>(heap + static_cast<uint64_t>(off)); }

// The wasm heap, or nullptr when detached (the heap grew after the caller read it: a caller bug).
uint8_t* heapOf(const Napi::CallbackInfo& info, const double* offs, int n) {
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.ByteLength() == 0 || ab.Data() == nullptr) return nullptr;
  const double len = static_cast<double>(ab.ByteLength());
  for (int i = 0; i < n; i++) if (offs[i] < 0 || offs[i] >= len) return nullptr;
  return static_cast<uint8_t*>(ab.Data());
}

Napi::Value fail(const Napi::CallbackInfo& info, const char* what) {
  Napi::Error::New(info.Env(), std::string(what) + ": wasm heap detached or offset out of range").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}

constexpr float kGeluK = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluC = 0.044715f;

// tanh as Eigen's (and XLA's, MLAS's) odd 13/6 rational approximation, clamped at ±9 where float
// tanh is ±1: no library call, so the loops vectorise (std::tanh/expf kept them scalar, ~5 ns each).
inline float tanhf_(float u) {
  const float x = std::min(std::max(u, -9.0f), 9.0f), x2 = x * x;
  float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p + -8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  return x * p / q;
}

// dims [R, D, rowsPerSample, eps, modulated]; offsets [x, shift, scale, y, stats] (shift, scale unused unless modulated)
Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  const double* d = info[1].As<Napi::Float64Array>().Data();
  const double* o = info[2].As<Napi::Float64Array>().Data();
  const bool mod = d[4] != 0;
  const double used[] = {o[0], mod ? o[1] : 0, mod ? o[2] : 0, o[3], o[4]};
  uint8_t* heap = heapOf(info, used, 5);
  if (!heap) return fail(info, "layerNormForward");
  const int64_t R = d[0], D = d[1], per = d[2];
  const float eps = static_cast<float>(d[3]);
  const float* X = at(heap, o[0]); const float* SH = mod ? at(heap, o[1]) : nullptr; const float* SC = mod ? at(heap, o[2]) : nullptr;
  float* Y = at(heap, o[3]); float* S = at(heap, o[4]);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < R; r++) {
    const float* x = X + r * D;
    float* y = Y + r * D;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < D; i++) sum += x[i];
    const float mean = sum / D;
    float sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int64_t i = 0; i < D; i++) { const float c = x[i] - mean; sq += c * c; }
    const float rstd = 1.0f / std::sqrt(sq / D + eps);
    S[2 * r] = mean; S[2 * r + 1] = rstd;
    if (mod) {
      const float* sh = SH + (r / per) * D; const float* sc = SC + (r / per) * D;
#pragma omp simd
      for (int64_t i = 0; i < D; i++) y[i] = (x[i] - mean) * rstd * (1.0f + sc[i]) + sh[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < D; i++) y[i] = (x[i] - mean) * rstd;
    }
  }
  return info.Env().Undefined();
}

// One row's dx; accumulates dshift/dscale of its sample when they are given.
inline void lnRowBackward(const float* dy, const float* x, const float* sc, float mean, float rstd, float* dx,
    float* dsh, float* dsc, int64_t D) {
  float a1 = 0, a2 = 0;
#pragma omp simd reduction(+ : a1, a2)
  for (int64_t i = 0; i < D; i++) {
    const float xhat = (x[i] - mean) * rstd;
    const float g = sc ? dy[i] * (1.0f + sc[i]) : dy[i];
    a1 += g; a2 += g * xhat;
  }
  a1 /= D; a2 /= D;
#pragma omp simd
  for (int64_t i = 0; i < D; i++) {
    const float xhat = (x[i] - mean) * rstd;
    const float g = sc ? dy[i] * (1.0f + sc[i]) : dy[i];
    dx[i] = rstd * (g - a1 - xhat * a2);
    if (dsh) { dsh[i] += dy[i]; dsc[i] += dy[i] * xhat; }
  }
}

// dims [R, D, rowsPerSample, modulated]; offsets [dy, x, scale, stats, dx, dshift, dscale]
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  const double* d = info[1].As<Napi::Float64Array>().Data();
  const double* o = info[2].As<Napi::Float64Array>().Data();
  const bool mod = d[3] != 0;
  const double used[] = {o[0], o[1], mod ? o[2] : 0, o[3], o[4], mod ? o[5] : 0, mod ? o[6] : 0};
  uint8_t* heap = heapOf(info, used, 7);
  if (!heap) return fail(info, "layerNormBackward");
  const int64_t R = d[0], D = d[1], per = d[2];
  const float* DY = at(heap, o[0]); const float* X = at(heap, o[1]); const float* SC = mod ? at(heap, o[2]) : nullptr;
  const float* S = at(heap, o[3]); float* DX = at(heap, o[4]);
  if (mod) {
    // one sample per iteration, so each sample's dshift/dscale rows have a single writer
    float* DSH = at(heap, o[5]); float* DSC = at(heap, o[6]);
    const int64_t B = R / per;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
      float* dsh = DSH + b * D; float* dsc = DSC + b * D;
      for (int64_t i = 0; i < D; i++) { dsh[i] = 0; dsc[i] = 0; }
      for (int64_t r = b * per; r < (b + 1) * per; r++) {
        lnRowBackward(DY + r * D, X + r * D, SC + b * D, S[2 * r], S[2 * r + 1], DX + r * D, dsh, dsc, D);
      }
    }
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) lnRowBackward(DY + r * D, X + r * D, nullptr, S[2 * r], S[2 * r + 1], DX + r * D, nullptr, nullptr, D);
  }
  return info.Env().Undefined();
}

// dims [n]; offsets [x, y]
Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  const double* d = info[1].As<Napi::Float64Array>().Data();
  const double* o = info[2].As<Napi::Float64Array>().Data();
  uint8_t* heap = heapOf(info, o, 2);
  if (!heap) return fail(info, "geluForward");
  const int64_t n = d[0];
  const float* X = at(heap, o[0]); float* Y = at(heap, o[1]);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float x = X[i];
    Y[i] = 0.5f * x * (1.0f + tanhf_(kGeluK * (x + kGeluC * x * x * x)));
  }
  return info.Env().Undefined();
}

// dims [n]; offsets [dy, x, dx]
Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  const double* d = info[1].As<Napi::Float64Array>().Data();
  const double* o = info[2].As<Napi::Float64Array>().Data();
  uint8_t* heap = heapOf(info, o, 3);
  if (!heap) return fail(info, "geluBackward");
  const int64_t n = d[0];
  const float* DY = at(heap, o[0]); const float* X = at(heap, o[1]); float* DX = at(heap, o[2]);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float x = X[i];
    const float t = tanhf_(kGeluK * (x + kGeluC * x * x * x));
    DX[i] = DY[i] * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kGeluK * (1.0f + 3.0f * kGeluC * x * x));
  }
  return info.Env().Undefined();
}

// dims [R, D, rowsPerSample]; offsets [x, gate, h, y]
Napi::Value GatedAddForward(const Napi::CallbackInfo& info) {
  const double* d = info[1].As<Napi::Float64Array>().Data();
  const double* o = info[2].As<Napi::Float64Array>().Data();
  uint8_t* heap = heapOf(info, o, 4);
  if (!heap) return fail(info, "gatedAddForward");
  const int64_t R = d[0], D = d[1], per = d[2];
  const float* X = at(heap, o[0]); const float* G = at(heap, o[1]); const float* H = at(heap, o[2]); float* Y = at(heap, o[3]);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < R; r++) {
    const float* g = G + (r / per) * D;
#pragma omp simd
    for (int64_t i = 0; i < D; i++) Y[r * D + i] = X[r * D + i] + g[i] * H[r * D + i];
  }
  return info.Env().Undefined();
}

// dims [R, D, rowsPerSample]; offsets [dy, gate, h, dgate, dh]; one sample per iteration (one writer per dgate row)
Napi::Value GatedAddBackward(const Napi::CallbackInfo& info) {
  const double* d = info[1].As<Napi::Float64Array>().Data();
  const double* o = info[2].As<Napi::Float64Array>().Data();
  uint8_t* heap = heapOf(info, o, 5);
  if (!heap) return fail(info, "gatedAddBackward");
  const int64_t R = d[0], D = d[1], per = d[2], B = R / per;
  const float* DY = at(heap, o[0]); const float* G = at(heap, o[1]); const float* H = at(heap, o[2]);
  float* DG = at(heap, o[3]); float* DH = at(heap, o[4]);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < B; b++) {
    const float* g = G + b * D;
    float* dg = DG + b * D;
    for (int64_t i = 0; i < D; i++) dg[i] = 0;
    for (int64_t r = b * per; r < (b + 1) * per; r++) {
      const float* dy = DY + r * D; const float* h = H + r * D; float* dh = DH + r * D;
#pragma omp simd
      for (int64_t i = 0; i < D; i++) { dg[i] += dy[i] * h[i]; dh[i] = dy[i] * g[i]; }
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void RegisterTransformer(Napi::Env env, Napi::Object exports) {
  exports.Set("layerNormForward", Napi::Function::New(env, LayerNormForward));
  exports.Set("layerNormBackward", Napi::Function::New(env, LayerNormBackward));
  exports.Set("geluForward", Napi::Function::New(env, GeluForward));
  exports.Set("geluBackward", Napi::Function::New(env, GeluBackward));
  exports.Set("gatedAddForward", Napi::Function::New(env, GatedAddForward));
  exports.Set("gatedAddBackward", Napi::Function::New(env, GatedAddBackward));
}
