/*
 * Cosines between one int8 query and many int8 rows held in several arrays (the lists of the
 * ivf engine), in one call. usearch's exact search, which the ivf engine called once a list,
 * costs about 4 us a call and computes three dot products a row; at 10^6 items a search of
 * about 18 lists spent more on that than on reading the rows (README "The ivf engine").
 *
 * scoreRows(blocks: Int8Array[], rows: Uint32Array, query: Int8Array, out: Float64Array): number
 *   scores the first rows[b] rows of blocks[b] (row after row, query.length components each),
 *   block after block, into out from its start, and returns how many it wrote. A score is
 *   a.b / sqrt(|a|^2 |b|^2), the products summed exactly in integers, the rest in double
 *   precision (0 when a row or the query is all zeros): what cosineInt8 in int8-vectors.ts gives.
 *
 * Rows are read from memory a few rows ahead of the arithmetic (prefetched), across the end of a
 * block into the next: a search's rows are scattered over thousands of blocks that are not in
 * any cache, and on a Zen 4 that halved the time to score them.
 *
 * On x86-64 with AVX-512 VNNI the products run as vpdpbusd (unsigned x signed bytes): a row's
 * bytes are offset by 128 to make them unsigned, and the offset's share is taken out again with
 * the sums of the query and of the row, so every int8 value (-128 included) gives the exact sum.
 * Elsewhere the plain loop, vectorised by the compiler (for AVX2 where the CPU has it).
 */
#include <math.h>
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define PREFETCH(address) __builtin_prefetch(address)
#if defined(__x86_64__)
#define RSCLIP_X86 1
#include <immintrin.h>
#endif
#else
#define ALWAYS_INLINE __forceinline
#define PREFETCH(address) ((void)(address))
#endif

/* Rows are summed in int32. The VNNI path's products of a row offset by 128 reach 255 x 128 =
   32,640 a component, so 2^16 components stay within int32 (2^17 overflowed it). */
#define MAX_DIM (1u << 16)
#define PREFETCH_ROWS 8

typedef struct {
  const int8_t *rows;
  size_t count;
} block_t;

/* The row PREFETCH_ROWS after row r of `block`, in `next` past the block's end (NULL past both). */
static inline const int8_t *row_ahead(block_t block, block_t next, size_t r, size_t dim) {
  size_t at = r + PREFETCH_ROWS;
  if (at < block.count) return block.rows + at * dim;
  at -= block.count;
  return at < next.count ? next.rows + at * dim : NULL;
}

static ALWAYS_INLINE void prefetch_row(const int8_t *row, size_t dim) {
  if (row == NULL) return;
  for (size_t j = 0; j < dim; j += 64) PREFETCH(row + j);
}

static inline double cosine_of(int64_t ab, int64_t aa, int64_t bb) {
  return aa > 0 && bb > 0 ? (double)ab / sqrt((double)aa * (double)bb) : 0.0;
}

static ALWAYS_INLINE void score_plain(block_t block, block_t next, size_t dim, const int8_t *query, int64_t bb, double *out) {
  for (size_t r = 0; r < block.count; r++) {
    prefetch_row(row_ahead(block, next, r, dim), dim);
    const int8_t *a = block.rows + r * dim;
    int32_t ab = 0, aa = 0;
    for (size_t j = 0; j < dim; j++) {
      ab += (int32_t)a[j] * (int32_t)query[j];
      aa += (int32_t)a[j] * (int32_t)a[j];
    }
    out[r] = cosine_of(ab, aa, bb);
  }
}

static void score_generic(block_t block, block_t next, size_t dim, const int8_t *query, int64_t bb, double *out) {
  score_plain(block, next, dim, query, bb, out);
}

#ifdef RSCLIP_X86
__attribute__((target("avx2"))) static void score_avx2(block_t block, block_t next, size_t dim, const int8_t *query, int64_t bb, double *out) {
  score_plain(block, next, dim, query, bb, out);
}

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

/* Adds a 64-byte chunk's products: (row + 128) as unsigned bytes times the query, times the row, and times 1. */
VNNI static inline void accumulate(__m512i row, __m512i query, __m512i *ab, __m512i *aa, __m512i *sum) {
  __m512i shifted = _mm512_xor_si512(row, _mm512_set1_epi8((char)0x80));
  *ab = _mm512_dpbusd_epi32(*ab, shifted, query);
  *aa = _mm512_dpbusd_epi32(*aa, shifted, row);
  *sum = _mm512_dpbusd_epi32(*sum, _mm512_set1_epi8(1), row);
}

VNNI static void score_vnni(block_t block, block_t next, size_t dim, const int8_t *query, int64_t bb, double *out) {
  int64_t query_sum = 0;
  for (size_t j = 0; j < dim; j++) query_sum += query[j];
  for (size_t r = 0; r < block.count; r++) {
    prefetch_row(row_ahead(block, next, r, dim), dim);
    const int8_t *a = block.rows + r * dim;
    __m512i ab = _mm512_setzero_si512(), aa = _mm512_setzero_si512(), sum = _mm512_setzero_si512();
    size_t j = 0;
    for (; j + 64 <= dim; j += 64) accumulate(_mm512_loadu_si512(a + j), _mm512_loadu_si512(query + j), &ab, &aa, &sum);
    if (j < dim) {
      /* the tail's missing bytes load as 0 in both (masked loads only here: rows read from
         memory by masked loads took twice as long as by plain ones on a Zen 4) */
      __mmask64 mask = ((__mmask64)1 << (dim - j)) - 1;
      accumulate(_mm512_maskz_loadu_epi8(mask, a + j), _mm512_maskz_loadu_epi8(mask, query + j), &ab, &aa, &sum);
    }
    int64_t row_sum = _mm512_reduce_add_epi32(sum);
    out[r] = cosine_of(_mm512_reduce_add_epi32(ab) - 128 * query_sum, _mm512_reduce_add_epi32(aa) - 128 * row_sum, bb);
  }
}
#endif

typedef void (*score_fn)(block_t, block_t, size_t, const int8_t *, int64_t, double *);

/* The fastest path this CPU runs; RSCLIP_INT8_KERNEL=avx2 or generic caps it (the tests run every path the CPU has). */
static score_fn choose_kernel(void) {
#ifdef RSCLIP_X86
  const char *cap = getenv("RSCLIP_INT8_KERNEL");
  int any = cap == NULL || *cap == 0 || strcmp(cap, "avx512vnni") == 0;
  __builtin_cpu_init();
  if (any && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni")) return score_vnni;
  if ((any || strcmp(cap, "avx2") == 0) && __builtin_cpu_supports("avx2")) return score_avx2;
#endif
  return score_generic;
}

static const char *kernel_name(score_fn kernel) {
#ifdef RSCLIP_X86
  if (kernel == score_vnni) return "avx512vnni";
  if (kernel == score_avx2) return "avx2";
#endif
  return "generic";
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

/* The data and length of typed array `value` if it is one of type `type`. */
static int typed_array(napi_env env, napi_value value, napi_typedarray_type type, void **data, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type actual;
  if (napi_get_typedarray_info(env, value, &actual, length, data, NULL, NULL) != napi_ok) return 0;
  return actual == type;
}

#define BLOCKS_EXPECTED "scoreRows: blocks must be an array of Int8Array"

static const block_t NO_BLOCK = {NULL, 0};

static napi_value score_rows(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  const score_fn *chosen;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&chosen) != napi_ok || argc != 4) return fail(env, "scoreRows expects (blocks, rows, query, out)");
  bool is_array = false;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) return fail(env, BLOCKS_EXPECTED);
  uint32_t count = 0;
  napi_get_array_length(env, argv[0], &count);
  napi_value *elements = malloc(((size_t)count + 1) * sizeof(napi_value));
  block_t *blocks = malloc(((size_t)count + 1) * sizeof(block_t));
  napi_value result = NULL;
  void *rows, *query, *out;
  size_t rows_length, dim, out_length;
  if (elements == NULL || blocks == NULL) {
    fail(env, "scoreRows: out of memory");
    goto done;
  }
  /* every element first: fetching one may run the caller's code (a getter), which could shrink or
     detach an array whose memory was taken before it; taking an array's memory runs none */
  for (uint32_t b = 0; b < count; b++) {
    if (napi_get_element(env, argv[0], b, &elements[b]) != napi_ok) {
      fail(env, BLOCKS_EXPECTED);
      goto done;
    }
  }
  if (!typed_array(env, argv[1], napi_uint32_array, &rows, &rows_length) || rows_length < count) {
    fail(env, "scoreRows: rows must be a Uint32Array with a count per block");
    goto done;
  }
  if (!typed_array(env, argv[2], napi_int8_array, &query, &dim) || dim == 0 || dim > MAX_DIM) {
    fail(env, "scoreRows: query must be an Int8Array of 1 to 65536 components");
    goto done;
  }
  if (!typed_array(env, argv[3], napi_float64_array, &out, &out_length)) {
    fail(env, "scoreRows: out must be a Float64Array");
    goto done;
  }
  size_t total = 0;
  for (uint32_t b = 0; b < count; b++) {
    void *data;
    size_t length;
    if (!typed_array(env, elements[b], napi_int8_array, &data, &length)) {
      fail(env, BLOCKS_EXPECTED);
      goto done;
    }
    uint32_t asked = ((const uint32_t *)rows)[b];
    if (asked > length / dim) {
      fail(env, "scoreRows: a block holds fewer rows than asked for");
      goto done;
    }
    if (asked > out_length - total) {
      fail(env, "scoreRows: out is too short for the rows asked for");
      goto done;
    }
    blocks[b].rows = data;
    blocks[b].count = asked;
    total += asked;
  }
  int64_t bb = 0;
  for (size_t j = 0; j < dim; j++) bb += (int64_t)((int8_t *)query)[j] * ((int8_t *)query)[j];
  size_t written = 0;
  for (uint32_t b = 0; b < count; b++) {
    (*chosen)(blocks[b], b + 1 < count ? blocks[b + 1] : NO_BLOCK, dim, query, bb, (double *)out + written);
    written += blocks[b].count;
  }
  napi_create_double(env, (double)written, &result);
done:
  free(elements);
  free(blocks);
  return result;
}

/* Every path there is; a load (once per thread that loads the addon) hands its function the one
   it chose, so nothing is written that threads share. */
static const score_fn KERNELS[] = {
    score_generic,
#ifdef RSCLIP_X86
    score_avx2,
    score_vnni,
#endif
};

NAPI_MODULE_INIT() {
  score_fn chosen = choose_kernel();
  const score_fn *kernel = KERNELS;
  while (*kernel != chosen) kernel++;
  napi_value fn, name;
  napi_create_function(env, "scoreRows", NAPI_AUTO_LENGTH, score_rows, (void *)kernel, &fn);
  napi_set_named_property(env, exports, "scoreRows", fn);
  napi_create_string_utf8(env, kernel_name(chosen), NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, exports, "kernel", name);
  return exports;
}
