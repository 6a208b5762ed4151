import tensorflow as tf

from tests.tools import load_tool


def load_bench():
    return load_tool("bench")


def matmul_flops(bench, operations):
    return bench.graph_flops([op for op in operations if op.type == "MatMul"])


def test_the_flop_count_leaves_out_the_gradients_no_one_reads():
    # A GAN step in miniature, with a tape per player as TranslationModel.train_step has.
    bench = load_bench()
    m, k, n, o = 4, 8, 16, 2
    x = tf.ones([m, k])
    g_kernel, d_kernel = tf.Variable(tf.ones([k, n])), tf.Variable(tf.ones([n, o]))

    def step(x):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = tf.matmul(x, g_kernel)
            logits = tf.matmul(fake, d_kernel)
            g_loss, d_loss = tf.reduce_sum(logits), -tf.reduce_sum(logits)
        g_kernel.assign_sub(g_tape.gradient(g_loss, g_kernel))
        d_kernel.assign_sub(d_tape.gradient(d_loss, d_kernel))
        return g_loss, d_loss

    graph = tf.function(step).get_concrete_function(x).graph
    # What runs: both forward products; for G's gradient, D's input gradient and G's kernel
    # gradient; for D's, D's kernel gradient.
    runs = 2 * (2 * m * k * n) + 3 * (2 * m * n * o)
    assert matmul_flops(bench, bench.executed_ops(graph)) == runs
    # The tapes traced more: the kernel gradient of D under G's tape, G's backward pass
    # under D's, the gradients of x.
    assert matmul_flops(bench, graph.get_operations()) > runs
