using System.Diagnostics;
using System.Globalization;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

/// <summary>
/// The floor under a purge's round trip on this machine: what NATS itself takes, with none of EdgeCache's
/// code in the path. A core PING round trip, and a JetStream publication into a scratch stream that no
/// consumer reads (made for the run and deleted after), each one at a time, <c>Gap</c> apart as the
/// latency mode's purges are. A purge makes one publication, then the stream's delivery to every node and
/// their acknowledgements: its round trip cannot be shorter than these.
/// </summary>
internal static class NatsFloor
{
    private static readonly TimeSpan Gap = TimeSpan.FromMilliseconds(50);

    public static async Task<int> RunAsync(string url, int count)
    {
        await using var nats = new NatsConnection(new NatsOpts { Url = url, Name = "purgebench-floor" });
        try
        {
            await nats.ConnectAsync();
        }
        catch (NatsException ex)
        {
            Console.Error.WriteLine($"error: NATS at {url} is not reachable ({ex.Message}); start the local CDN (deploy/local/up.sh) or pass --nats");
            return 2;
        }

        var js = new NatsJSContext(nats);
        const string stream = "PURGEBENCH_FLOOR";
        await js.CreateOrUpdateStreamAsync(new StreamConfig(stream, ["purgebench.floor"]) { Storage = StreamConfigStorage.File, MaxMsgs = 10_000 });
        var pings = new List<double>(count);
        var publishes = new List<double>(count);
        var payload = "{\"floor\":true}"u8.ToArray();
        try
        {
            for (var i = 0; i < count + 20; i++)
            {
                var t = Stopwatch.GetTimestamp();
                await nats.PingAsync();
                var ping = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                await Task.Delay(Gap);
                t = Stopwatch.GetTimestamp();
                (await js.PublishAsync("purgebench.floor", payload)).EnsureSuccess();
                var publish = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                if (i >= 20)
                {
                    // The first 20 are warm-up, as in the latency mode.
                    pings.Add(ping);
                    publishes.Add(publish);
                }

                await Task.Delay(Gap);
            }
        }
        finally
        {
            await js.DeleteStreamAsync(stream);
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"NATS floor: {count} of each, {url}, {Gap.TotalMilliseconds:0} ms apart"));
        Console.WriteLine();
        Console.WriteLine("| ms                                     |     p50 |     p90 |     p99 |     max |");
        Console.WriteLine("|----------------------------------------|--------:|--------:|--------:|--------:|");
        Console.WriteLine(Bench.Row("core NATS PING round trip", pings));
        Console.WriteLine(Bench.Row("JetStream publish, no consumers", publishes));
        return 0;
    }
}
