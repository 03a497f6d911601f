// Fused GroupNorm (+ SiLU) forward and backward on the tfjs wasm heap (NHWC: x[n][p][c]).
// Per-channel partial sums over pixels keep the inner loops contiguous and vectorisable; the
// batch is split across OpenMP threads. Same math as groupNormForwardJs/BackwardJs in
// src/runtime/fused.ts, which the tests compare against the composite tfjs ops.
#include <napi.h>
#include <cmath>
#include <cstdint>
#include <vector>
#include <omp.h>

namespace {

float* at(uint8_t* heap, double off) { return reinterpret_cast<float*>(heap + static_cast<uint64_t>(off)); }

// The wasm heap; a detached buffer (the heap grew after the caller read it) would be a bug in the
// caller, so it is refused instead of being written through.
uint8_t* heapOf(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.ByteLength() == 0 || ab.Data() == nullptr) return nullptr;
  return static_cast<uint8_t*>(ab.Data());
}

bool inBounds(const Napi::CallbackInfo& info, const double* offs, int n) {
  const double len = static_cast<double>(info[0].As<Napi::ArrayBuffer>().ByteLength());
  for (int i = 0; i < n; i++) if (offs[i] < 0 || offs[i] >= len) return false;
  return true;
}

inline float sigmoidf(float h) { return 1.0f / (1.0f + std::exp(-h)); }

// dims [N, P, C, G, eps, silu]; offsets [x, gamma, beta, y, stats]
Napi::Value Forward(const Napi::CallbackInfo& info) {
  uint8_t* heap = heapOf(info);
  const double* d = info[1].As<Napi::Float64Array>().Data();
  const double* o = info[2].As<Napi::Float64Array>().Data();
  if (!heap || !inBounds(info, o, 5)) { Napi::Error::New(info.Env(), "groupNormForward: wasm heap detached or offset out of range").ThrowAsJavaScriptException(); return info.Env().Undefined(); }
  const int64_t N = d[0], P = d[1], C = d[2], G = d[3];
  const float eps = static_cast<float>(d[4]);
  const bool silu = d[5] != 0;
  const float* X = at(heap, o[0]); const float* gamma = at(heap, o[1]); const float* beta = at(heap, o[2]);
  float* Y = at(heap, o[3]); float* S = at(heap, o[4]);
  const int64_t cpg = C / G;
  const double M = static_cast<double>(P * cpg);
#pragma omp parallel
  {
    std::vector<float> s(C), q(C), a(C), b(C);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; n++) {
      const float* x = X + n * P * C;
      float* y = Y + n * P * C;
      std::fill(s.begin(), s.end(), 0.f);
      std::fill(q.begin(), q.end(), 0.f);
      for (int64_t p = 0; p < P; p++) {
        const float* row = x + p * C;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) { s[c] += row[c]; q[c] += row[c] * row[c]; }
      }
      for (int64_t g = 0; g < G; g++) {
        double sum = 0, sq = 0;
        for (int64_t c = g * cpg; c < (g + 1) * cpg; c++) { sum += s[c]; sq += q[c]; }
        const double mean = sum / M;
        const double var = std::max(0.0, sq / M - mean * mean);
        const float rstd = static_cast<float>(1.0 / std::sqrt(var + eps));
        S[(n * G + g) * 2] = static_cast<float>(mean);
        S[(n * G + g) * 2 + 1] = rstd;
        for (int64_t c = g * cpg; c < (g + 1) * cpg; c++) { a[c] = rstd * gamma[c]; b[c] = beta[c] - static_cast<float>(mean) * a[c]; }
      }
      for (int64_t p = 0; p < P; p++) {
        const float* row = x + p * C;
        float* out = y + p * C;
        if (silu) {
#pragma omp simd
          for (int64_t c = 0; c < C; c++) { const float h = row[c] * a[c] + b[c]; out[c] = h * sigmoidf(h); }
        } else {
#pragma omp simd
          for (int64_t c = 0; c < C; c++) out[c] = row[c] * a[c] + b[c];
        }
      }
    }
  }
  return info.Env().Undefined();
}

// dims [N, P, C, G, silu]; offsets [dy, x, gamma, beta, stats, dx, dgamma, dbeta]
Napi::Value Backward(const Napi::CallbackInfo& info) {
  uint8_t* heap = heapOf(info);
  const double* d = info[1].As<Napi::Float64Array>().Data();
  const double* o = info[2].As<Napi::Float64Array>().Data();
  if (!heap || !inBounds(info, o, 8)) { Napi::Error::New(info.Env(), "groupNormBackward: wasm heap detached or offset out of range").ThrowAsJavaScriptException(); return info.Env().Undefined(); }
  const int64_t N = d[0], P = d[1], C = d[2], G = d[3];
  const bool silu = d[4] != 0;
  const float* DY = at(heap, o[0]); const float* X = at(heap, o[1]); const float* gamma = at(heap, o[2]);
  const float* beta = at(heap, o[3]); const float* S = at(heap, o[4]);
  float* DX = at(heap, o[5]); float* DG = at(heap, o[6]); float* DB = at(heap, o[7]);
  const int64_t cpg = C / G;
  const float invM = 1.0f / static_cast<float>(P * cpg);
  std::vector<double> partA(N * C), partB(N * C);  // per-sample Σ dh and Σ dh·x̂ per channel
#pragma omp parallel
  {
    std::vector<float> mean(C), rstd(C), a(C), b(C), A(C), B(C), k1(C), k2(C);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; n++) {
      for (int64_t c = 0; c < C; c++) {
        const int64_t g = c / cpg;
        mean[c] = S[(n * G + g) * 2]; rstd[c] = S[(n * G + g) * 2 + 1];
        a[c] = rstd[c] * gamma[c]; b[c] = beta[c] - mean[c] * a[c];
      }
      std::fill(A.begin(), A.end(), 0.f);
      std::fill(B.begin(), B.end(), 0.f);
      const float* x = X + n * P * C; const float* dy = DY + n * P * C; float* dx = DX + n * P * C;
      // pass 1: dh (through SiLU) into dx as scratch, and the channel sums
      for (int64_t p = 0; p < P; p++) {
        const float* xr = x + p * C; const float* dr = dy + p * C; float* hr = dx + p * C;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) {
          float dh = dr[c];
          if (silu) { const float h = xr[c] * a[c] + b[c]; const float s = sigmoidf(h); dh *= s * (1.0f + h * (1.0f - s)); }
          hr[c] = dh;
          A[c] += dh;
          B[c] += dh * (xr[c] - mean[c]) * rstd[c];
        }
      }
      for (int64_t c = 0; c < C; c++) { partA[n * C + c] = A[c]; partB[n * C + c] = B[c]; }
      // group sums s1 = Σ γ·dh, s2 = Σ γ·dh·x̂ → per-channel coefficients of dx = rstd·(γ·dh − (s1 + x̂·s2)/M)
      for (int64_t g = 0; g < G; g++) {
        float s1 = 0, s2 = 0;
        for (int64_t c = g * cpg; c < (g + 1) * cpg; c++) { s1 += gamma[c] * A[c]; s2 += gamma[c] * B[c]; }
        for (int64_t c = g * cpg; c < (g + 1) * cpg; c++) { k1[c] = s1 * invM; k2[c] = s2 * invM; }
      }
      for (int64_t p = 0; p < P; p++) {
        const float* xr = x + p * C; float* hr = dx + p * C;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) {
          const float xhat = (xr[c] - mean[c]) * rstd[c];
          hr[c] = rstd[c] * (hr[c] * gamma[c] - k1[c] - xhat * k2[c]);
        }
      }
    }
  }
  for (int64_t c = 0; c < C; c++) {
    double ga = 0, be = 0;
    for (int64_t n = 0; n < N; n++) { be += partA[n * C + c]; ga += partB[n * C + c]; }
    DG[c] = static_cast<float>(ga); DB[c] = static_cast<float>(be);
  }
  return info.Env().Undefined();
}

}  // namespace

void RegisterFused(Napi::Env env, Napi::Object exports) {
  exports.Set("groupNormForward", Napi::Function::New(env, Forward));
  exports.Set("groupNormBackward", Napi::Function::New(env, Backward));
}
