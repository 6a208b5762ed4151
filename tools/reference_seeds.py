"""The reference side of tools/parity.py alone, over many seeds, on any torch device.

Trains tools/reference_torch.py's CycleGAN or pix2pix as `parity.py --sides reference` does
(the same data copy, settings and held-out scoring), in several worker processes at once, and
prints one JSON line per run and parity.py's summary of them. It needs torch, numpy and PIL,
not TensorFlow, so it runs where tfi2i cannot (a GPU machine with torch alone); SSIM, which
parity.py takes from TensorFlow, is left out.

    python tools/reference_seeds.py --task cyclegan --size 64 --seeds 0-19 \
        [--cpu-workers 4 --threads 2] [--cuda-workers 4] [--deadline SECONDS] [--out runs.jsonl]

A seed's run on the CPU gives parity.py's reference row for that seed to the last digit (seen for
CycleGAN seed 0 at 60 steps); on a GPU its numerics, hence its run, differ (seed 0 at 1000 steps:
photo -> labels accuracy 0.2001 on the CPU, 0.1775 on an H200). Measured on one H200 (CycleGAN,
64 px, ngf 32, 1000 steps): 100 s a run with 4 runs at once, 166 s with 10; on 2 CPU cores
(`--cpu-workers 1 --threads 2`), 200-270 s a run.
"""

import argparse
import json
import multiprocessing
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import parity  # noqa: E402  (its settings and reference run)
import parity_scores  # noqa: E402  (the data and task measures; TensorFlow only for SSIM)


def photo_scores(fake, real):
    """L1 on [-1, 1] and PSNR on 0-255, per image then averaged, as tfi2i.metrics.paired."""
    l1 = np.abs(fake - real).mean(axis=(1, 2, 3))
    mse = (((fake + 1.0) * 127.5 - (real + 1.0) * 127.5) ** 2).mean(axis=(1, 2, 3))
    return {"l1": float(l1.mean()), "psnr": float(np.mean(20 * np.log10(255.0) - 10 * np.log10(mse)))}


def run_one(job):
    """Trains one seed as parity.py trains the reference, and scores it; returns its row."""
    task, s, data_root, source, seed, device, threads = job
    args = argparse.Namespace(task=task, score_at=[])
    model, seconds = parity.train_reference(args, s, data_root, seed, device=device, threads=threads)
    photos, labels = parity_scores.held_out(source, s["size"])
    palette = parity_scores.label_palette(source)
    out = parity.reference_translations(args, model, photos, labels, "eval")
    scores = parity_scores.task_scores(task, out, photos, labels, palette, photo_measure=photo_scores)
    return {"seed": seed, "device": device, "seconds": round(seconds, 1), **scores}


def seed_list(text):
    seeds = []
    for part in text:
        first, _, last = part.partition("-")
        seeds += list(range(int(first), int(last or first) + 1))
    return seeds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=parity.TASKS, default="cyclegan")
    parser.add_argument("--seeds", nargs="+", default=["0-4"], help="seeds and ranges: 0-4 7")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--cpu-workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads per CPU worker")
    parser.add_argument("--cuda-workers", type=int, default=0)
    parser.add_argument("--deadline", type=float, help="start no run after this many seconds")
    parser.add_argument("--data", default=parity.DEFAULT_DATA)
    parser.add_argument("--work", default="/tmp/tfi2i-reference-seeds")
    parser.add_argument("--out", help="also append each run's JSON line here")
    args = parser.parse_args()

    args.paper, args.norm, args.ngf = False, None, None
    s = parity.settings(args)
    data_root = parity_scores.prepare_data(args.data, args.work, args.task)
    jobs = seed_list(args.seeds)
    print(f"task {args.task}: {s}, {len(jobs)} runs", flush=True)

    # One pool per device kind; each worker takes the next job when it is free.
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    pools = [(context.Pool(n), n, device, threads) for n, device, threads in
             ((args.cpu_workers, "cpu", args.threads), (args.cuda_workers, "cuda", 1)) if n]
    pending, rows = list(jobs), []
    running = []
    while pending or running:
        for pool, workers, device, threads in pools:
            busy = sum(1 for _, d in running if d == device)
            while pending and busy < workers and not (
                    args.deadline and time.perf_counter() - started > args.deadline):
                seed = pending.pop(0)
                job = (args.task, s, data_root, args.data, seed, device, threads)
                running.append((pool.apply_async(run_one, (job,)), device))
                busy += 1
        if args.deadline and time.perf_counter() - started > args.deadline:
            pending = []
        for item in [r for r in running if r[0].ready()]:
            running.remove(item)
            row = item[0].get()
            rows.append(row)
            line = json.dumps(row)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(line + "\n")
        time.sleep(0.5)

    if rows:
        print(parity.summary({("reference", r["seed"]): {k: v for k, v in r.items()
                                                         if k not in ("seed", "device", "seconds")}
                              for r in rows}, ["reference"]))


if __name__ == "__main__":
    main()
