/**
 * A table's runs for a cluster, without a scheduler of our own: a Kubernetes
 * Indexed Job or a Slurm array script in which index `i` runs the table's
 * run `i` (`deno task reproduce TABLE --index i`). Each run writes its
 * checkpoint after every epoch to a shared directory, so a pod or task that
 * is restarted resumes (`--index` takes over the lock a killed pod or task
 * left; see ./run.ts); `deno task reproduce TABLE --collect DIR` then
 * builds the table from the checkpoints.
 *
 * @module
 */

import { quote } from "./markdown.ts";
import type { Scale, TableId } from "./tables.ts";

/** What a cluster job needs to know. */
export interface EmitOptions {
  table: TableId;
  scale: Scale;
  /** Number of runs in the table: the indices are 0 … runs-1. */
  runs: number;
  /** The runs' directory on the shared volume or filesystem. */
  runsDir: string;
  /** The datasets' directory (holding ptb/ and imdb/) there. */
  dataRoot: string;
  /** CPUs and memory (GiB) per run. */
  cpus: number;
  memoryGiB: number;
}

/** Kubernetes specifics: the image holding a sparrow checkout, and the shared volume. */
export interface KubernetesOptions extends EmitOptions {
  image: string;
  /** A PersistentVolumeClaim (ReadWriteMany) mounted at `mountPath`. */
  claim: string;
  mountPath: string;
}

/** Slurm specifics: the sparrow checkout every node sees. */
export interface SlurmOptions extends EmitOptions {
  repoDir: string;
}

/** The command that trains the run of index `index` (a shell expression). */
export function indexCommand(o: EmitOptions, index: string): string {
  return [
    ...["deno", "task", "reproduce", o.table, "--scale", o.scale].map(quote),
    "--index",
    index,
    ...["--runs", o.runsDir, "--data-root", o.dataRoot].map(quote),
  ].join(" ");
}

/** The job's name, `sparrow-<table>-<scale>`. */
export function jobName(o: EmitOptions): string {
  return `sparrow-${o.table}-${o.scale}`;
}

/** A Kubernetes Indexed Job, one completion index per run. */
export function kubernetesJob(o: KubernetesOptions): string {
  const command = indexCommand(o, '"$JOB_COMPLETION_INDEX"');
  return `# ${o.runs} runs of ${o.table} at scale ${o.scale}: completion index i trains run i.
# A restarted pod resumes its run from the checkpoint on the shared volume. When all are done:
#   deno task reproduce ${o.table} --scale ${o.scale} --collect ${o.runsDir}
apiVersion: batch/v1
kind: Job
metadata:
  name: ${jobName(o)}
spec:
  completionMode: Indexed
  completions: ${o.runs}
  parallelism: ${o.runs}
  backoffLimitPerIndex: 3
  # A failed pod's replacement starts once it has stopped: one pod per run at a time.
  podReplacementPolicy: Failed
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: train
          image: ${JSON.stringify(o.image)}
          command: ["sh", "-c", ${JSON.stringify(command)}]
          resources:
            requests:
              cpu: "${o.cpus}"
              memory: ${o.memoryGiB}Gi
          volumeMounts:
            - name: shared
              mountPath: ${JSON.stringify(o.mountPath)}
      volumes:
        - name: shared
          persistentVolumeClaim:
            claimName: ${JSON.stringify(o.claim)}
`;
}

/** A Slurm array script, one array task per run. */
export function slurmScript(o: SlurmOptions): string {
  return `#!/bin/bash
# ${o.runs} runs of ${o.table} at scale ${o.scale}: array task i trains run i.
# A requeued task resumes its run from its checkpoint. When all are done:
#   deno task reproduce ${o.table} --scale ${o.scale} --collect ${quote(o.runsDir)}
#SBATCH --job-name=${jobName(o)}
#SBATCH --array=0-${o.runs - 1}
#SBATCH --cpus-per-task=${o.cpus}
#SBATCH --mem=${o.memoryGiB}G
#SBATCH --requeue
#SBATCH --output=${o.runsDir}/slurm-%A_%a.log
set -euo pipefail
mkdir -p ${quote(o.runsDir)}
cd ${quote(o.repoDir)}
${indexCommand(o, '"$SLURM_ARRAY_TASK_ID"')}
`;
}
