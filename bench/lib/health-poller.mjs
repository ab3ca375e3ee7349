// Asks GET /__health every 200 ms for the given seconds and prints every latency (ms) as JSON.
// A process of its own, so that its timings do not include the event loop of 50 busy clients.
const [url, seconds] = process.argv.slice(2);
const until = performance.now() + Number(seconds) * 1000;
const latencies = [];
while (performance.now() < until) {
  const started = performance.now();
  await fetch(url).then((res) => res.arrayBuffer(), () => undefined);
  latencies.push(performance.now() - started);
  await new Promise((resolve) => setTimeout(resolve, 200));
}
process.stdout.write(JSON.stringify(latencies));
