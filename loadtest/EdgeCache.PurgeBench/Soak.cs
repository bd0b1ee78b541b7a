using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

/// <summary>
/// The soak's load (loadtest/soak.sh starts the CDN, samples memory and restarts a shield): readers
/// spread over the edges read a skewed hot set (hits) and new URLs (misses); a purger changes a hot
/// object's version at the load origin and purges it with wait:true, again and again. A read that
/// started after a purge returned must carry at least the version the purge was for.
/// </summary>
internal sealed class Soak(HttpClient http, string[] edges, string origin, string purge, string key, string host)
{
    private const int HotObjects = 200;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private readonly ConcurrentDictionary<string, (long Version, long ReturnedAt)> _purged = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(long At, string What)> _errors = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentQueue<PurgeTiming> _purgeMs = new();
    private long _requests;
    private long _hits;
    private long _misses;
    private long _bytes;
    private long _purges;
    private long _incomplete;

    private static string HotPath(int i) => i % 5 == 0 ? $"/obj/100k/soak-h{i}" : $"/obj/1k/soak-h{i}";

    public async Task<int> RunAsync(TimeSpan duration, int concurrency, string? restartFile, string? summaryFile)
    {
        Console.WriteLine($"soak: {duration.TotalSeconds:F0} s, {concurrency} readers over {string.Join(", ", edges)}, purges through {purge}, origin {origin}");
        var started = Stopwatch.GetTimestamp();
        var startedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using var stop = new CancellationTokenSource(duration);
        var missCounter = 0L;
        var readers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var rng = new Random(w);
            while (!stop.IsCancellationRequested)
            {
                var edge = edges[rng.Next(edges.Length)];
                if (rng.NextDouble() < 0.1)
                {
                    await ReadAsync(edge, $"/obj/1k/soak-m{Interlocked.Increment(ref missCounter)}-{Environment.ProcessId}", hot: false);
                }
                else
                {
                    // Skewed toward low indexes: a hot head and a long tail.
                    var u = rng.NextDouble();
                    await ReadAsync(edge, HotPath((int)(HotObjects * u * u)), hot: true);
                }
            }
        })).ToList();
        // The purger stands for a publisher, another client than the readers: it runs on a thread of its own and
        // sends synchronously, so its round trip is the CDN's, not the time its answer waited in this process's
        // thread pool behind the readers' continuations.
        var purgerDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var purgerThread = new Thread(() =>
        {
            try
            {
                var rng = new Random(12345);
                while (!stop.IsCancellationRequested)
                {
                    PurgeOne(HotPath((int)(HotObjects * Math.Pow(rng.NextDouble(), 2))));
                    stop.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(500));
                }

                purgerDone.TrySetResult();
            }
            catch (Exception ex)
            {
                purgerDone.TrySetException(ex);
            }
        })
        { IsBackground = true, Name = "soak-purger" };
        purgerThread.Start();
        var purger = purgerDone.Task;
        var progress = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(30), stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                Console.Error.WriteLine($"  {Stopwatch.GetElapsedTime(started).TotalSeconds,5:F0} s  {Interlocked.Read(ref _requests)} requests, {_errors.Count} errors, {Interlocked.Read(ref _purges)} purges, {_violations.Count} stale-after-purge");
            }
        });
        await Task.WhenAll(readers.Append(purger).Append(progress));
        var wall = Stopwatch.GetElapsedTime(started);

        // Errors within 15 s after the shield restart are the bound the failover allows; outside it, none.
        long? restartAt = restartFile is not null && File.Exists(restartFile) && long.TryParse(File.ReadAllText(restartFile).Trim(), CultureInfo.InvariantCulture, out var r) ? r : null;
        var errors = _errors.ToArray();
        var inWindow = restartAt is { } ra ? errors.Count(e => e.At >= ra && e.At <= ra + 15_000) : 0;
        var outside = errors.Length - inWindow;
        var purgeMs = _purgeMs.Select(t => t.RoundTripMs).Order().ToArray();
        static double P(double[] sorted, double q) => sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
        double Pr(double q) => P(purgeMs, q);

        // Purges that started in the 15 s after the shield restart may wait for the restarted shield (it is in
        // membership until its entry expires): the cluster is not healthy then. The others are timed apart.
        var healthy = _purgeMs.Where(t => restartAt is not { } at || t.StartedUnixMs < at || t.StartedUnixMs > at + 15_000).ToArray();
        var healthyRoundTrip = healthy.Select(t => t.RoundTripMs).Order().ToArray();
        var healthyPropagation = healthy.Select(t => t.PropagationMs).Order().ToArray();
        object Percentiles(double[] sorted) => new { p50 = Math.Round(P(sorted, 0.5), 2), p99 = Math.Round(P(sorted, 0.99), 2), max = Math.Round(P(sorted, 1), 2) };
        var requests = Interlocked.Read(ref _requests);
        var summary = new
        {
            seconds = Math.Round(wall.TotalSeconds, 1),
            concurrency,
            requests,
            requestsPerSecond = Math.Round(requests / wall.TotalSeconds, 1),
            edgeHitRatio = requests == 0 ? 0 : Math.Round((double)Interlocked.Read(ref _hits) / requests, 4),
            misses = Interlocked.Read(ref _misses),
            megabytes = Math.Round(Interlocked.Read(ref _bytes) / 1048576.0, 1),
            errors = errors.Length,
            errorsDuringShieldRestart = inWindow,
            errorsOtherwise = outside,
            firstErrors = errors.Take(10).Select(e => e.What).ToArray(),
            purges = Interlocked.Read(ref _purges),
            purgesIncomplete = Interlocked.Read(ref _incomplete),
            purgeRoundTripMs = new { p50 = Math.Round(Pr(0.5), 2), p99 = Math.Round(Pr(0.99), 2), max = Math.Round(Pr(1), 2) },
            purgesOutsideRestart = healthy.Length,
            purgeRoundTripMsOutsideRestart = Percentiles(healthyRoundTrip),
            purgePropagationMsOutsideRestart = Percentiles(healthyPropagation),
            slowestPurges = healthy.OrderByDescending(t => t.RoundTripMs).Take(5).Select(t => $"{t.RoundTripMs:F1} ms at +{(t.StartedUnixMs - startedUnixMs) / 1000.0:F1} s: {t.Acked}").ToArray(),
            staleAfterPurge = _violations.Count,
            firstStale = _violations.Take(10).ToArray(),
            shieldRestartAtUnixMs = restartAt,
        };
        var json = JsonSerializer.Serialize(summary, Indented);
        if (summaryFile is not null) await File.WriteAllTextAsync(summaryFile, json);
        Console.WriteLine(json);
        return outside == 0 && _violations.IsEmpty && Interlocked.Read(ref _incomplete) == 0 ? 0 : 1;
    }

    private async Task ReadAsync(string edge, string path, bool hot)
    {
        var startedAt = Environment.TickCount64;
        var startedUnix = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, edge + path);
            request.Headers.Host = host;
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            var body = await response.Content.ReadAsByteArrayAsync();
            Interlocked.Increment(ref _requests);
            Interlocked.Add(ref _bytes, body.Length);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                _errors.Enqueue((startedUnix, $"{edge}{path}: {(int)response.StatusCode}"));
                return;
            }

            var members = response.Headers.TryGetValues("Cache-Status", out var values) ? values.SelectMany(v => v.Split(',')) : [];
            var edgeMember = members.Select(m => m.Trim()).LastOrDefault(m => m.StartsWith("EdgeCache-Edge", StringComparison.Ordinal)) ?? "";
            if (edgeMember.Contains("hit", StringComparison.Ordinal)) Interlocked.Increment(ref _hits);
            else Interlocked.Increment(ref _misses);
            if (!hot || !_purged.TryGetValue(path, out var p) || p.ReturnedAt >= startedAt) return;
            var version = response.Headers.TryGetValues("X-Origin-Version", out var v) && long.TryParse(v.FirstOrDefault(), CultureInfo.InvariantCulture, out var n) ? n : -1;
            if (version < p.Version) _violations.Enqueue($"{edge}{path}: version {version} served after the purge for version {p.Version} returned ({edgeMember})");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Interlocked.Increment(ref _requests);
            _errors.Enqueue((startedUnix, $"{edge}{path}: {ex.Message}"));
        }
    }

    private void PurgeOne(string path)
    {
        try
        {
            // The publisher changes the object, then purges it.
            using var bumpRequest = new HttpRequestMessage(HttpMethod.Post, $"{origin}/__origin/version?path={Uri.EscapeDataString(path)}");
            using var bump = http.Send(bumpRequest);
            bump.EnsureSuccessStatusCode();
            using var doc = JsonDocument.Parse(bump.Content.ReadAsStream());
            var version = doc.RootElement.GetProperty("version").GetInt64();

            var json = JsonSerializer.Serialize(new { urls = new[] { $"http://{host}{path}" }, wait = true, timeoutMs = 10000 });
            using var request = new HttpRequestMessage(HttpMethod.Post, purge + "/purge") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            var startedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var started = Stopwatch.GetTimestamp();
            using var response = http.Send(request);
            using var reader = new StreamReader(response.Content.ReadAsStream(), Encoding.UTF8);
            var text = reader.ReadToEnd();
            var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (response.StatusCode == HttpStatusCode.TooManyRequests) return;
            if (!response.IsSuccessStatusCode)
            {
                _errors.Enqueue((DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), $"purge {path}: {(int)response.StatusCode} {text}"));
                return;
            }

            using var result = JsonDocument.Parse(text);
            Interlocked.Increment(ref _purges);
            var acked = result.RootElement.GetProperty("acked").EnumerateArray().Select(a => (Node: a.GetProperty("node").GetString(), Ms: a.GetProperty("ms").GetDouble())).ToList();
            _purgeMs.Enqueue(new PurgeTiming(startedUnixMs, ms, acked.Count == 0 ? 0 : acked.Max(a => a.Ms), string.Join(", ", acked.Select(a => $"{a.Node} {a.Ms:F1}"))));
            if (!result.RootElement.GetProperty("complete").GetBoolean())
            {
                // A node that did not apply it in time: it has left membership, or this is a real loss.
                Interlocked.Increment(ref _incomplete);
                Console.Error.WriteLine($"incomplete purge: {text}");
            }

            _purged[path] = (version, Environment.TickCount64);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            _errors.Enqueue((DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), $"purge {path}: {ex.Message}"));
        }
    }
}
