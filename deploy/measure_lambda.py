#!/usr/bin/env python3
"""Measures the Lambda binary locally: cold start, and peak memory and time for one Kinesis batch.

Plays the Lambda Runtime API (the part a function talks to) on loopback, starts the built `bootstrap`
against it with a Personalize Events emulator as the endpoint, and hands it one Kinesis batch of N
enriched records from `cargo xtask corpus`, twice. Prints JSON: binary size, cold start (process start
to the first `invocation/next`), the first invocation's wall time, the CPU the second (warm) batch
cost, and the peak resident memory.

    cargo xtask lambda && cargo build --release -p cli -p xtask
    python3 deploy/measure_lambda.py --records 1000
"""

import argparse
import base64
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def kinesis_batch(lines):
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": str(i),
                    "sequenceNumber": f"{49590330000000000000000000000 + i}",
                    "data": base64.b64encode(line).decode(),
                    "approximateArrivalTimestamp": 1714558503.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{i}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/x",
                "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/enriched",
            }
            for i, line in enumerate(lines)
        ]
    }


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    payloads = []
    first_next = None
    responses = []
    done = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):
        if RuntimeApi.first_next is None:
            RuntimeApi.first_next = time.monotonic()
        if not RuntimeApi.payloads:
            # Hold the function here, as Lambda freezes it between invocations, so it can be measured.
            time.sleep(60)
            return
        body = json.dumps(RuntimeApi.payloads.pop(0)).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:sp")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    pid = None
    cpu_marks = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        RuntimeApi.responses.append((self.path, self.rfile.read(length), time.monotonic()))
        if RuntimeApi.pid:
            RuntimeApi.cpu_marks.append(cpu_seconds(RuntimeApi.pid))
        self.send_response(202)
        self.end_headers()
        if not RuntimeApi.payloads:
            RuntimeApi.done.set()


def peak_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def cpu_seconds(pid):
    """CPU time of every thread of the process, in nanoseconds from the scheduler's own accounting
    (`/proc/<pid>/task/*/schedstat`) where the kernel has it, else in clock ticks of 10 ms."""
    try:
        total_ns = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total_ns += int(stat.read().split()[0])
        return total_ns / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--zip", default=os.path.join(ROOT, "target/lambda/snowplow-personalize-lambda/bootstrap.zip"))
    args = parser.parse_args()
    unpacked = tempfile.mkdtemp()
    with zipfile.ZipFile(args.zip) as archive:
        archive.extract("bootstrap", unpacked)
    args.bootstrap = os.path.join(unpacked, "bootstrap")
    os.chmod(args.bootstrap, 0o755)

    corpus = subprocess.run(
        [os.path.join(ROOT, "target/release/xtask"), "corpus", "--events", str(args.records), "--mix", "realistic", "--seed", "9"],
        check=True, capture_output=True,
    ).stdout.splitlines()
    RuntimeApi.payloads.append(kinesis_batch(corpus))
    RuntimeApi.payloads.append(kinesis_batch(corpus))

    emulator = subprocess.Popen(
        [os.path.join(ROOT, "target/release/snowplow-personalize"), "emulator", "--listen", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    endpoint = next(w for w in emulator.stderr.readline().split() if w.startswith("http://"))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ,
               AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
               AWS_LAMBDA_FUNCTION_NAME="sp", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_FUNCTION_VERSION="1",
               AWS_REGION="eu-west-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y", AWS_EC2_METADATA_DISABLED="true",
               AWS_ENDPOINT_URL_PERSONALIZE_EVENTS=endpoint,
               SNOWPLOW_PERSONALIZE_TRACKING_IDS="shop=t", SNOWPLOW_PERSONALIZE_STREAM_DATASET_GROUP="shop", RUST_LOG="warn")
    started = time.monotonic()
    function = subprocess.Popen([args.bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    RuntimeApi.pid = function.pid
    RuntimeApi.done.wait(120)
    time.sleep(0.05)
    invoked = RuntimeApi.first_next
    answered = RuntimeApi.responses[0][2] if RuntimeApi.responses else None
    result = {
        "zip_bytes": os.path.getsize(args.zip),
        "binary_bytes": os.path.getsize(args.bootstrap),
        "cold_start_ms": round((invoked - started) * 1000, 1),
        "records": args.records,
        "invocation_wall_ms": round((answered - invoked) * 1000, 1) if answered else None,
        "process_cpu_s_total": cpu_seconds(function.pid),
        # CPU between the two answers: the warm batch, network waits excluded (threads that exited
        # during the batch are not counted; the runtime's threads live as long as the process).
        "warm_batch_cpu_ms": round((RuntimeApi.cpu_marks[1] - RuntimeApi.cpu_marks[0]) * 1000, 2) if len(RuntimeApi.cpu_marks) > 1 else None,
        "peak_rss_kb": peak_kb(function.pid),
        "response": json.loads(RuntimeApi.responses[0][1]) if RuntimeApi.responses else None,
    }
    function.kill()
    emulator.kill()
    server.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
