/* Optimizers and schedules against PyTorch 1.13 (goldens written by
 * tests/reference/gen_optim_goldens.py): every optimizer, weight decay in
 * both forms, global-norm clipping across two parameters, and every
 * schedule's learning rates step by step. */
#include <math.h>

#include "harness.h"
#include "reference/optim_goldens.h"

static void golden_grads(int t, float scale, float gw[6], float gb[3]) {
    for (int i = 0; i < 6; i++) gw[i] = (float)(scale * sin(1.0 + 0.7 * i + 1.3 * t));
    for (int i = 0; i < 3; i++) gb[i] = (float)(scale * cos(0.5 + 0.9 * i + 0.4 * t));
}

/* w [2,3] and b [3] with loss = sum(w * cw) + sum(b * cb): the gradients are
 * exactly cw and cb, which each step sets to the golden gradients. */
static void run_golden(const gold_case *gc) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    hwa_tensor *w = hwa_tensor_new_2d(ctx, HWA_F32, 2, 3), *b = hwa_tensor_new_1d(ctx, HWA_F32, 3);
    hwa_tensor *cw = hwa_tensor_new_2d(ctx, HWA_F32, 2, 3), *cb = hwa_tensor_new_1d(ctx, HWA_F32, 3);
    CHECK(w && b && cw && cb);
    CHECK_OK(hwa_tensor_set_param(w));
    CHECK_OK(hwa_tensor_set_param(b));
    hwa_tensor *loss = hwa_add(ctx, hwa_sum(ctx, hwa_mul(ctx, w, cw)), hwa_sum(ctx, hwa_mul(ctx, b, cb)));
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, loss));
    CHECK_OK(hwa_graph_build_backward(g, loss));
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    CHECK_OK(hwa_tensor_set_f32(w, gold_w0, 6));
    CHECK_OK(hwa_tensor_set_f32(b, gold_b0, 3));
    CHECK_OK(hwa_graph_alloc(g, be, HWA_PLAN_REUSE, NULL));
    hwa_optim_kind kind;
    CHECK_OK(hwa_optim_kind_from_name(gc->kind, &kind));
    hwa_optim_config oc = hwa_optim_config_default(kind);
    oc.momentum = gc->momentum;
    oc.weight_decay = gc->wd;
    oc.clip_norm = gc->clip;
    hwa_optim *opt = NULL;
    CHECK_OK(hwa_optim_new(g, be, &oc, &opt));
    for (int t = 0; t < GOLD_STEPS; t++) {
        float gw[6], gb[3], pw[6], pb[3];
        golden_grads(t, gc->scale, gw, gb);
        CHECK_OK(hwa_tensor_set_f32(cw, gw, 6));
        CHECK_OK(hwa_tensor_set_f32(cb, gb, 3));
        CHECK_OK(hwa_graph_zero_grads(g));
        CHECK_OK(hwa_graph_compute(g, be));
        CHECK_OK(hwa_optim_step(opt, gc->lr));
        CHECK_OK(hwa_tensor_get_f32(w, pw, 6));
        CHECK_OK(hwa_tensor_get_f32(b, pb, 3));
        for (int i = 0; i < 9; i++) {
            const double got = i < 6 ? pw[i] : pb[i - 6], want = gc->after[t][i];
            /* f32 arithmetic in a slightly different order than PyTorch's. */
            CHECK_MSG(fabs(got - want) <= 2e-6 + 2e-6 * fabs(want), "%s: step %d value %d: %.9g, PyTorch %.9g",
                      gc->name, t + 1, i, got, want);
        }
    }
    CHECK_INT_EQ(hwa_optim_steps(opt), GOLD_STEPS);
    hwa_optim_free(opt);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

#define GOLDEN_TEST(idx, name) \
    TEST(optimizer_##name##_matches_pytorch) { run_golden(&gold_cases[idx]); }
GOLDEN_TEST(0, sgd)
GOLDEN_TEST(1, sgd_weight_decay)
GOLDEN_TEST(2, momentum)
GOLDEN_TEST(3, nesterov_weight_decay)
GOLDEN_TEST(4, momentum_clipped_by_global_norm)
GOLDEN_TEST(5, adam)
GOLDEN_TEST(6, adam_l2_weight_decay)
GOLDEN_TEST(7, adamw_decoupled_weight_decay)
GOLDEN_TEST(8, adam_clipped_by_global_norm)

TEST(golden_table_covers_every_case) { CHECK_INT_EQ(sizeof gold_cases / sizeof gold_cases[0], 9); }

static void check_sched(const char *name, hwa_sched s) {
    const gold_sched *gs = NULL;
    for (size_t i = 0; i < sizeof gold_scheds / sizeof gold_scheds[0]; i++)
        if (!strcmp(gold_scheds[i].name, name)) gs = &gold_scheds[i];
    CHECK(gs);
    CHECK_OK(hwa_sched_check(&s));
    for (int t = 0; t < gs->n; t++)
        CHECK_MSG(fabs(hwa_sched_lr(&s, t) - gs->lrs[t]) <= 1e-9, "%s step %d: %.12g, PyTorch %.12g", name, t,
                  hwa_sched_lr(&s, t), gs->lrs[t]);
}

TEST(schedule_step_matches_pytorch_steplr) {
    hwa_sched s = hwa_sched_default(HWA_SCHED_STEP, 0.1, 10);
    s.step_size = 3;
    s.gamma = 0.5;
    check_sched("step", s);
}

TEST(schedule_cosine_with_warmup_matches_pytorch_linear_then_cosine) {
    hwa_sched s = hwa_sched_default(HWA_SCHED_COSINE, 0.1, 12);
    s.warmup_steps = 3;
    s.min_lr = 0.001;
    check_sched("cosine", s);
}

TEST(schedule_onecycle_matches_pytorch_onecyclelr) {
    hwa_sched s = hwa_sched_default(HWA_SCHED_ONECYCLE, 0.1, 20);
    check_sched("onecycle", s);
}

TEST(schedule_constant_is_constant) {
    hwa_sched s = hwa_sched_default(HWA_SCHED_CONSTANT, 0.25, 5);
    for (int t = 0; t < 100; t += 7) CHECK_NEAR(hwa_sched_lr(&s, t), 0.25, 0);
}

TEST(bad_schedules_and_optimizers_are_rejected) {
    hwa_sched s = hwa_sched_default(HWA_SCHED_CONSTANT, -1, 5);
    CHECK_STATUS(hwa_sched_check(&s), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "learning rate");
    s = hwa_sched_default(HWA_SCHED_COSINE, 0.1, 5);
    s.warmup_steps = 5;
    CHECK_STATUS(hwa_sched_check(&s), HWA_E_INVALID);
    hwa_optim_kind k;
    CHECK_STATUS(hwa_optim_kind_from_name("adagrad", &k), HWA_E_NOTFOUND);
    CHECK_STR_CONTAINS(hwa_last_error(), "adagrad");
    hwa_optim_config c = hwa_optim_config_default(HWA_OPTIM_ADAM);
    c.beta1 = 1.0f;
    CHECK_STATUS(hwa_optim_config_check(&c), HWA_E_INVALID);
    c = hwa_optim_config_default(HWA_OPTIM_SGD);
    c.clip_norm = -1;
    CHECK_STATUS(hwa_optim_config_check(&c), HWA_E_INVALID);
    /* momentum in [0, 1): at 1 the velocity never decays */
    c = hwa_optim_config_default(HWA_OPTIM_SGD);
    c.momentum = 1.0f;
    CHECK_STATUS(hwa_optim_config_check(&c), HWA_E_INVALID);
    c.momentum = 0.999f;
    CHECK_OK(hwa_optim_config_check(&c));
}

TEST(the_trainer_computes_in_f32_bf16_or_f16_and_refuses_other_dtypes) {
    hwa_dtype t = HWA_I32;
    CHECK_OK(hwa_train_dtype_from_name("BF16", &t));
    CHECK_INT_EQ(t, HWA_BF16);
    CHECK_OK(hwa_train_dtype_from_name("f16", &t));
    CHECK_INT_EQ(t, HWA_F16);
    CHECK_STATUS(hwa_train_dtype_from_name("q8_0", &t), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "training cannot compute in dtype 'q8_0'; available: f32, bf16, f16");
    CHECK_STATUS(hwa_train_dtype_from_name("fp8", &t), HWA_E_UNSUPPORTED);
    CHECK_STATUS(hwa_train_dtype_from_name(NULL, &t), HWA_E_UNSUPPORTED);
    hwa_train_config c = hwa_train_config_default();
    CHECK_INT_EQ(c.dtype, HWA_F32);
    CHECK_INT_EQ(c.threads, 0);
    CHECK_OK(hwa_train_config_check(&c));
    c.dtype = HWA_Q4_0;
    CHECK_STATUS(hwa_train_config_check(&c), HWA_E_UNSUPPORTED);
    CHECK_STATUS(hwa_trainer_new(&c, &(hwa_trainer *){NULL}), HWA_E_UNSUPPORTED);
    c.dtype = HWA_BF16;
    c.threads = -1;
    CHECK_STATUS(hwa_train_config_check(&c), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "--threads -1");
}
