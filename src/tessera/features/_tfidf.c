/* The scene index's tf-idf scoring (tessera.features.retrieval), compiled: the same
 * sums in the same order as its NumPy path, so the same scores to the last bit.
 * Why C: a query's posting lists are a slice of the inverted file per word (1.5M
 * postings a query at 100k stored pictures of 2,048 words); NumPy concatenates them
 * into temporaries and sums with bincount, ~8 ns a posting; one pass here reads each
 * posting once. Plain C, loaded with ctypes (tessera.features.tfidf_kernel). */
#include <stdint.h>

/* scores[doc] += (double)(float)(inv_w[j] * q[k]) for every posting j of every query
 * word words[k] (its postings are inv_ptr[w] .. inv_ptr[w + 1]), words in the given
 * order, postings in stored order: NumPy's concatenate-then-bincount order. `scores`
 * (one double per document) is zeroed by the caller. */
void tessera_tfidf_scores(const int64_t *inv_ptr, const int32_t *inv_doc, const float *inv_w,
                          const int64_t *words, const float *q, long nwords, double *scores) {
    for (long k = 0; k < nwords; k++) {
        const int64_t w = words[k];
        const int64_t end = inv_ptr[w + 1];
        const float v = q[k];
        for (int64_t j = inv_ptr[w]; j < end; j++) {
            const float p = inv_w[j] * v; /* float32 product, as NumPy's */
            scores[inv_doc[j]] += (double)p;
        }
    }
}
