/* tests/unit/model_sample.h: records of the cluster model (client/model.h) with every field
 * set, built field by field in C, for the model's round-trip and error tests. */
#ifndef BERTH_TESTS_MODEL_SAMPLE_H
#define BERTH_TESTS_MODEL_SAMPLE_H

#include "client/model.h"

/* Each fills a zeroed record with owned copies (free with model_*_free). */
void model_sample_taskdef(struct model_taskdef *td);
void model_sample_instance(struct model_instance *in);
void model_sample_task(struct model_task *t);
void model_sample_service(struct model_service *s);

/* A heap copy of s that must not fail. */
char *model_sample_str(const char *s);

#endif
