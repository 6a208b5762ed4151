import numpy as np
import pytest

from tfi2i.metrics import fid, kid, paired, precision_recall


def gaussian_samples(mean, cov, count, seed):
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=count)


# --- FID -----------------------------------------------------------------------------------

def test_fid_of_a_feature_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(300, 32)) @ np.random.default_rng(1).normal(size=(32, 32))
    assert fid.fid(features, features) == pytest.approx(0.0, abs=1e-8)
    assert fid.fid(features, features + 0.5) == pytest.approx(32 * 0.25, rel=1e-6)  # a shift only moves the mean


def closed_form_2x2(mean_1, cov_1, mean_2, cov_2):
    """For 2x2 matrices whose product has non-negative eigenvalues,
    tr(sqrt(M)) = sqrt(tr(M) + 2 sqrt(det(M)))."""
    product = cov_1 @ cov_2
    trace_of_root = np.sqrt(np.trace(product) + 2.0 * np.sqrt(np.linalg.det(product)))
    difference = np.subtract(mean_1, mean_2)
    return difference @ difference + np.trace(cov_1) + np.trace(cov_2) - 2.0 * trace_of_root


def test_frechet_distance_of_two_gaussians_equals_the_closed_form():
    # Covariances that do not commute, so no shortcut through a shared eigenbasis applies.
    mean_1, cov_1 = np.array([0.0, 1.0]), np.array([[2.0, 0.8], [0.8, 1.0]])
    mean_2, cov_2 = np.array([1.5, -0.5]), np.array([[0.5, -0.3], [-0.3, 3.0]])
    expected = closed_form_2x2(mean_1, cov_1, mean_2, cov_2)
    assert fid.frechet_distance(mean_1, cov_1, mean_2, cov_2) == pytest.approx(expected, rel=1e-10)
    # Diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2.
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    assert fid.frechet_distance(np.zeros(3), np.diag(a), np.ones(3), np.diag(b)) == pytest.approx(3 + 1 + 0 + 4)
    # And from samples of those Gaussians, within sampling error.
    estimate = fid.fid(gaussian_samples(mean_1, cov_1, 200_000, 0), gaussian_samples(mean_2, cov_2, 200_000, 1))
    assert estimate == pytest.approx(expected, rel=0.02)


# --- KID -----------------------------------------------------------------------------------

def reference_mmd2(x, y):
    """The unbiased MMD^2 estimator of Binkowski et al., written out term by term."""
    d = x.shape[1]
    k = lambda u, v: (np.dot(u, v) / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2.0 * xy


def test_kid_equals_a_term_by_term_implementation():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(20, 6)), rng.normal(0.3, 1.2, size=(25, 6))
    # One subset of all of the smaller set: the estimate does not depend on the order.
    mean, std = kid.kid(real, fake, subset_size=20, subsets=1)
    assert std == 0.0
    subset = np.random.default_rng(0)
    real_rows, fake_rows = subset.choice(20, 20, replace=False), subset.choice(25, 20, replace=False)
    assert mean == pytest.approx(reference_mmd2(real[real_rows], fake[fake_rows]), rel=1e-10)
    # Several subsets: mean and std of the per-subset estimates.
    subset = np.random.default_rng(7)
    values = [reference_mmd2(real[subset.choice(20, 8, replace=False)], fake[subset.choice(25, 8, replace=False)])
              for _ in range(5)]
    assert kid.kid(real, fake, subset_size=8, subsets=5, seed=7) == pytest.approx((np.mean(values), np.std(values)))


def test_kid_is_about_zero_for_one_distribution_and_positive_for_two():
    same = [kid.kid(np.random.default_rng(s).normal(size=(200, 16)), np.random.default_rng(s + 100).normal(size=(200, 16)),
                    subset_size=100, subsets=20)
            for s in range(5)]
    shifted = kid.kid(np.random.default_rng(0).normal(size=(200, 16)), np.random.default_rng(1).normal(0.5, 1, (200, 16)),
                      subset_size=100, subsets=20)
    # Unbiased: for one distribution the estimates scatter around 0, some below it.
    assert any(mean < 0 for mean, _ in same)
    assert all(abs(mean) < 0.05 for mean, _ in same)  # measured: -0.019 to 0.022
    assert shifted[0] > 0.5 and shifted[0] > 5 * shifted[1]  # measured: 1.07 +- 0.11


# --- precision and recall ------------------------------------------------------------------

def on_a_line(*xs):
    return np.array([[x, 0.0] for x in xs])


def test_precision_and_recall_of_constructed_point_sets():
    real = on_a_line(*range(10))  # k=3 radii: 3 at both ends, 2 inside
    fake = on_a_line(4.5, 20, 21, 22, 23)  # one fake inside the real spheres; the others 11+ away
    # Recall: the fake at 4.5 has radius 17.5 (its 3rd neighbour is 22), covering every real point.
    assert precision_recall.precision_recall(real, fake, k=3) == (0.2, 1.0)
    assert precision_recall.precision_recall(fake, real, k=3) == (1.0, 0.2)
    assert precision_recall.precision_recall(real, real, k=3) == (1.0, 1.0)
    np.testing.assert_allclose(precision_recall.neighbourhood_radii(real, 3), [3, 2, 2, 2, 2, 2, 2, 2, 2, 3])
    with pytest.raises(ValueError, match="needs more than 3 images"):
        precision_recall.precision_recall(real, fake[:3], k=3)


def test_precision_falls_as_fakes_leave_the_real_support():
    real = np.random.default_rng(0).normal(size=(500, 8))
    fake = np.random.default_rng(1).normal(size=(500, 8))
    precision_near, recall_near = precision_recall.precision_recall(real, fake)
    precision_far, _ = precision_recall.precision_recall(real, fake + 3.0)
    assert precision_near > 0.6 and recall_near > 0.6
    assert precision_far < 0.1


# --- paired metrics ------------------------------------------------------------------------

def from_levels(levels):
    return np.asarray(levels, np.float32) / 127.5 - 1.0


def test_pixel_accuracy_counts_pixels_within_the_threshold_in_every_channel():
    real = np.full((4, 4, 3), 100.0)
    fake = real.copy()
    fake[0, :, 0] += 16  # 4 pixels: exactly at the threshold -> correct
    fake[1, :, 2] -= 17  # 4 pixels: one channel over -> wrong
    fake[2, :2, :] += 30  # 2 pixels: every channel over -> wrong
    assert paired.pixel_accuracy(from_levels(fake), from_levels(real)) == pytest.approx(10 / 16)
    assert paired.pixel_accuracy(from_levels(fake), from_levels(real), threshold=30) == pytest.approx(1.0)


def test_psnr_ssim_l1_on_known_images():
    real, fake = np.full((16, 16, 3), 100.0), np.full((16, 16, 3), 110.0)
    assert paired.psnr(from_levels(fake), from_levels(real)) == pytest.approx(10 * np.log10(255**2 / 100), rel=1e-5)
    # Flat images: the contrast-structure term is C2/C2 = 1; the luminance term is
    # (2ab + C1) / (a^2 + b^2 + C1) with C1 = (0.01 x 255)^2. (Within 1e-4: TF's float32
    # Gaussian window sums to 1 - 2e-7, which leaves flat 8-bit images a variance of ~0.004;
    # on an AVX2-only AMD EPYC the float32 sums left 2e-4, hence 5e-4.)
    c1 = (0.01 * 255) ** 2
    assert paired.ssim(from_levels(fake), from_levels(real)) == pytest.approx((2 * 100 * 110 + c1) / (100**2 + 110**2 + c1),
                                                                              rel=5e-4)
    assert paired.l1(from_levels(fake), from_levels(real)) == pytest.approx(10 / 127.5)
    textured = np.random.default_rng(0).uniform(-1, 1, (20, 20, 1)).astype(np.float32)
    assert paired.ssim(textured, textured) == pytest.approx(1.0)
    assert paired.ssim(textured, -textured) < 0  # anti-correlated structure
    assert paired.psnr(textured, textured) == np.inf


def test_paired_scores_average_per_image_over_sizes():
    pairs = [(from_levels(np.full((8, 8, 3), 10.0)), from_levels(np.full((8, 8, 3), 10.0))),
             (from_levels(np.full((4, 6, 3), 50.0)), from_levels(np.full((4, 6, 3), 100.0)))]
    scores = paired.paired_scores(pairs, metrics=("pixel_accuracy", "l1"))
    assert scores == {"pixel_accuracy": pytest.approx(0.5), "l1": pytest.approx((0 + 50 / 127.5) / 2)}
    with pytest.raises(ValueError, match="has a target of shape"):
        paired.paired_scores([(pairs[0][0], pairs[1][1])])
