using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeCache.ClusterTool;

/// <summary>
/// Purges one after another, each of an object whose version the origin has just bumped, and
/// checks what they promise: the API answers (retried with the same Idempotency-Key while it
/// cannot publish), the purge becomes complete, and no edge then serves the version before it.
/// </summary>
internal sealed class PurgeStream(string api, string key, string origin, string[] edges, string host, string size, string name, int intervalMs = 1)
{
    private readonly HttpClient _http = Http.Create();

    /// <summary>Reads every object the stream will purge through every edge, so each is cached there.</summary>
    public async Task<int> WarmAsync(int count, CancellationToken ct)
    {
        foreach (var path in Paths(count))
        {
            foreach (var edge in edges)
            {
                var (status, _, _) = await Http.GetAsync(_http, edge, host, path, ct);
                if (status != HttpStatusCode.OK) return Report($"warm-up: {edge}{path} answered {(int)status}");
            }
        }

        Console.WriteLine(new JsonObject { ["warmed"] = count * edges.Length }.ToJsonString());
        return 0;
    }

    /// <param name="allowMissing">Nodes a purge may still miss when its wait ends (a host known to be
    /// cut off or killed, until its membership entry expires): such a purge counts as complete for the
    /// live nodes, is read back from the edges, and is listed as partial. The last purge must be complete.</param>
    public async Task<int> RunAsync(int count, int timeoutMs, TimeSpan deadline, bool warm, string[] allowMissing, string progressFile, string summaryFile, CancellationToken ct)
    {
        var paths = Paths(count);
        if (warm && await WarmAsync(count, ct) != 0) return 1;

        var records = new JsonArray();
        var problems = new List<string>();
        long lastSequence = 0;
        var roundTrips = new List<double>();
        var completions = new List<double>();
        var retried = 0;
        var partials = 0;
        var noAcks = 0;
        var lastIncomplete = false;
        for (var i = 0; i < count; i++)
        {
            var path = paths[i];
            var version = await BumpAsync(path, ct);
            var started = Stopwatch.GetTimestamp();
            var until = started + (long)(deadline.TotalSeconds * Stopwatch.Frequency);
            var idempotencyKey = Guid.NewGuid().ToString("N");
            var body = $$"""{"urls":["http://{{host}}{{path}}"],"wait":true,"timeoutMs":{{timeoutMs}}}""";
            JsonObject? answer = null;
            var attempts = 0;
            string? lastRefusal = null;
            while (answer is null && Stopwatch.GetTimestamp() < until)
            {
                attempts++;
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, api + "/purge") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                    request.Headers.Add("Idempotency-Key", idempotencyKey);
                    using var response = await _http.SendAsync(request, ct);
                    var text = await response.Content.ReadAsStringAsync(ct);
                    if (response.StatusCode == HttpStatusCode.OK) answer = JsonNode.Parse(text)!.AsObject();
                    else lastRefusal = $"{(int)response.StatusCode} {text.Trim()}";
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    lastRefusal = ex.Message;
                }

                if (answer is null) await Task.Delay(200, ct);
            }

            if (answer is null)
            {
                problems.Add($"purge {i} ({path}) was never accepted within {deadline.TotalSeconds} s: {lastRefusal}");
                break;
            }

            if (attempts > 1) retried++;
            if (answer["acked"]!.AsArray().Count == 0 && (bool)answer["complete"]!)
            {
                // Complete with no node acknowledging: every node had left membership at publication, as a
                // node does when its lease lapses (during a stream leader's election, every node's does).
                // Such a node serves no stored copy without revalidating and applies the stream up to its
                // end before it rejoins, so the claim holds; it is counted, and the reads from every edge
                // below check it (a membership the API could not read is answered incomplete instead,
                // MembershipOutageTests).
                noAcks++;
            }
            var firstAnswer = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            roundTrips.Add(firstAnswer);
            var id = (string)answer["id"]!;
            var sequence = (long)answer["sequence"]!;
            var missingAtFirst = answer["missing"]!.AsArray().Select(n => (string)n!).ToArray();
            while (!(bool)answer["complete"]! && Stopwatch.GetTimestamp() < until)
            {
                await Task.Delay(200, ct);
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, api + "/purge/" + id);
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                    using var response = await _http.SendAsync(request, ct);
                    if (response.StatusCode == HttpStatusCode.OK) answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!.AsObject();
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                }
            }

            var complete = (bool)answer["complete"]!;
            var completeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var partial = !complete && allowMissing.Length > 0 && answer["missing"]!.AsArray().All(n => allowMissing.Contains((string)n!));
            if (partial) partials++;
            if (i == count - 1 && !complete) lastIncomplete = true;
            if (!complete && !partial) problems.Add($"purge {i} ({path}, sequence {sequence}) not complete within {deadline.TotalSeconds} s; missing: {answer["missing"]!.ToJsonString()}");
            else completions.Add(completeMs);
            if (sequence <= lastSequence) problems.Add($"purge {i} has sequence {sequence}, not after the previous {lastSequence}");
            lastSequence = Math.Max(lastSequence, sequence);

            // Read-your-purge: once complete (for the live nodes), no edge serves the version it removed.
            if (complete || partial)
            {
                foreach (var edge in edges)
                {
                    var seen = await ReadUntilServedAsync(edge, path, until, ct);
                    if (seen is null) problems.Add($"{edge}{path} was not served within the deadline after purge {i}");
                    else if (seen < version) problems.Add($"{edge}{path} served version {seen} after purge {i} of version {version - 1} was complete (sequence {sequence})");
                }
            }

            records.Add(new JsonObject
            {
                ["path"] = path,
                ["version"] = version,
                ["id"] = id,
                ["sequence"] = sequence,
                ["attempts"] = attempts,
                ["firstAnswerMs"] = Math.Round(firstAnswer, 1),
                ["completeMs"] = Math.Round(completeMs, 1),
                ["missingAtFirst"] = new JsonArray([.. missingAtFirst.Select(m => (JsonNode)m)]),
                ["complete"] = complete,
                ["acked"] = answer["acked"]!.DeepClone(),
            });
            if (intervalMs > 1) await Task.Delay(intervalMs, ct);
            if (progressFile.Length > 0) await File.WriteAllTextAsync(progressFile, (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), ct);
            if (problems.Count > 0) break;
        }

        if (lastIncomplete && problems.Count == 0) problems.Add("the last purge was not complete: the missing nodes never left membership");
        var summary = new JsonObject
        {
            ["purges"] = records.Count,
            ["partialForDownNodes"] = partials,
            ["answeredWithNoNodeAcked"] = noAcks,
            ["requested"] = count,
            ["retriedPublications"] = retried,
            ["firstAnswerMs"] = new JsonObject { ["p50"] = Math.Round(Http.Percentile(roundTrips, 50), 1), ["p99"] = Math.Round(Http.Percentile(roundTrips, 99), 1), ["max"] = roundTrips.Count > 0 ? Math.Round(roundTrips.Max(), 1) : null },
            ["completeMs"] = new JsonObject { ["p50"] = Math.Round(Http.Percentile(completions, 50), 1), ["max"] = completions.Count > 0 ? Math.Round(completions.Max(), 1) : null },
            ["problems"] = new JsonArray([.. problems.Select(p => (JsonNode)p)]),
            ["records"] = records,
        };
        var json = summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (summaryFile.Length > 0) await File.WriteAllTextAsync(summaryFile, json, ct);
        Console.WriteLine(json);
        return problems.Count == 0 && records.Count == count ? 0 : 1;
    }

    /// <summary>Reads every object of a purges summary from each edge; fails on a version older than its purge's.</summary>
    public static async Task<int> VerifyAsync(string summaryFile, string[] edges, string host, bool requireOk, TimeSpan deadline, CancellationToken ct)
    {
        var records = JsonNode.Parse(await File.ReadAllTextAsync(summaryFile, ct))!["records"]!.AsArray();
        using var http = Http.Create();
        var until = Stopwatch.GetTimestamp() + (long)(deadline.TotalSeconds * Stopwatch.Frequency);
        var problems = new List<string>();
        var served = 0;
        var unavailable = 0;
        foreach (var edge in edges)
        {
            foreach (var record in records)
            {
                var path = (string)record!["path"]!;
                var version = (long)record["version"]!;
                while (true)
                {
                    HttpStatusCode? status = null;
                    long seen = 0;
                    try
                    {
                        (status, seen, _) = await Http.GetAsync(http, edge, host, path, ct);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                    }

                    if (status == HttpStatusCode.OK && seen < version)
                    {
                        problems.Add($"{edge}{path} served version {seen}, purged (the purge removed versions before {version})");
                        break;
                    }

                    if (status == HttpStatusCode.OK) { served++; break; }
                    if (!requireOk) { unavailable++; break; }
                    if (Stopwatch.GetTimestamp() >= until)
                    {
                        problems.Add($"{edge}{path} was not served within {deadline.TotalSeconds} s (last status {(status is { } s ? ((int)s).ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")})");
                        break;
                    }

                    await Task.Delay(200, ct);
                }
            }
        }

        var summary = new JsonObject
        {
            ["objects"] = records.Count * edges.Length,
            ["servedCurrent"] = served,
            ["unavailable"] = unavailable,
            ["problems"] = new JsonArray([.. problems.Select(p => (JsonNode)p)]),
        };
        Console.WriteLine(summary.ToJsonString());
        return problems.Count == 0 ? 0 : 1;
    }

    private string[] Paths(int count) => [.. Enumerable.Range(0, count).Select(i => $"/obj/{size}/{name}{i}")];

    private async Task<long> BumpAsync(string path, CancellationToken ct)
    {
        using var response = await _http.PostAsync($"{origin}/__origin/version?path={Uri.EscapeDataString(path)}", null, ct);
        response.EnsureSuccessStatusCode();
        return (long)JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!["version"]!;
    }

    private async Task<long?> ReadUntilServedAsync(string edge, string path, long until, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                var (status, version, _) = await Http.GetAsync(_http, edge, host, path, ct);
                if (status == HttpStatusCode.OK) return version;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }

            if (Stopwatch.GetTimestamp() >= until) return null;
            await Task.Delay(100, ct);
        }
    }

    private static int Report(string problem)
    {
        Console.WriteLine(new JsonObject { ["problems"] = new JsonArray(problem) }.ToJsonString());
        return 1;
    }
}
