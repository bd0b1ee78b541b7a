using Microsoft.Extensions.Time.Testing;

namespace EdgeCache.Storage.Tests;

/// <summary>
/// The store failing: an unusable directory at start-up, and a log directory that disappears under a
/// running store (FASTER cannot create its next segment file, so its page flush fails and appends
/// wait for it forever). The caller must never hang, sees misses and dropped writes, and the store
/// reports the failure in <see cref="DiskStore.Healthy"/>, <see cref="DiskStore.Failures"/> and a log
/// line at most once per interval.
/// </summary>
public sealed class StoreFailureTests : IDisposable
{
    private const int FailingEvent = 2004;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly string _dir = Stores.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Healthy_stays_true_and_nothing_fails_in_normal_operation()
    {
        var log = new ListLogger();
        await using var store = Stores.Open(Stores.Small(_dir), log);
        Assert.True(store.Healthy);
        var body = Stores.Bytes(5 * 64 * 1024 + 1, seed: 61);
        Assert.Null(await store.GetAsync("http://a/x", Stores.NoHeaders, long.MaxValue, CancellationToken.None));
        await store.PutAsync("http://a/x", Stores.Response(body), CancellationToken.None);
        Assert.Equal(body, await Stores.GetBytes(store, "http://a/x"));
        Assert.Equal(body, await Stores.GetBytes(store, "http://a/x", completeUpTo: 0));
        Assert.True(await store.CheckpointAsync());
        await store.RemoveAsync("http://a/x", CancellationToken.None);
        await store.RemoveAsync("http://a/never-stored", CancellationToken.None);
        Assert.Null(await store.GetAsync("http://a/x", Stores.NoHeaders, long.MaxValue, CancellationToken.None));

        Assert.True(store.Healthy);
        Assert.Equal(0, store.Failures);
        Assert.Equal(0, log.Count(FailingEvent));
    }

    /// <summary>
    /// Today opening a store where a directory cannot be created throws (an <see cref="IOException"/>
    /// naming the path); the host decides what to do with it. The issue asks that the node then keeps
    /// serving with the disk tier off, so the host must catch this (or Open should return a store that
    /// is off and unhealthy).
    /// </summary>
    [Fact]
    public void Open_where_the_directory_is_a_regular_file_throws_an_IOException_naming_it()
    {
        var file = Path.Combine(_dir, "not-a-directory");
        File.WriteAllText(file, "a file where the store's directory should be");

        var atFile = Assert.ThrowsAny<IOException>(() => Stores.Open(Stores.Small(file)));
        Assert.Contains(file, atFile.Message, StringComparison.Ordinal);
        var under = Assert.ThrowsAny<IOException>(() => Stores.Open(Stores.Small(Path.Combine(file, "disk"))));
        Assert.Contains(file, under.Message, StringComparison.Ordinal);
        Assert.Equal("a file where the store's directory should be", File.ReadAllText(file));
    }

    [Fact]
    public async Task A_log_directory_that_fails_under_a_running_store_never_hangs_callers_and_is_reported_once_per_interval()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var log = new ListLogger();
        var options = Stores.Small(_dir, budget: 32L * 1024 * 1024);
        var store = Stores.Open(options, log, time);
        var before = Stores.Bytes(100_000, seed: 62);
        for (var i = 0; i < 10; i++) await store.PutAsync($"http://a/before/{i}", Stores.Response(before), CancellationToken.None);
        Assert.True(store.Healthy);

        // The log directory becomes a file: the next segment file cannot be created.
        var hlog = Path.Combine(_dir, "store", "hlog");
        Directory.Delete(hlog, recursive: true);
        File.WriteAllText(hlog, "not a directory");

        // Write until the store notices: each write must come back (stored or dropped), never hang.
        var body = Stores.Bytes(100_000, seed: 63);
        for (var i = 0; store.Failures == 0; i++)
        {
            Assert.True(i < 400, "400 writes of 100 KB (12 log segments) went through a log directory that is a file");
            await Completes(store.PutAsync($"http://a/after/{i}", Stores.Response(body), CancellationToken.None).AsTask(), time, options);
        }

        Assert.False(store.Healthy);
        Assert.Equal(1, log.Count(FailingEvent));

        // From now on every call answers at once, without the clock moving: misses and dropped writes,
        // or objects still served whole from memory, never a wrong byte, and no new log line.
        for (var i = 0; i < 50; i++)
        {
            var got = await Stores.GetBytes(store, $"http://a/before/{i % 10}").WaitAsync(Deadline);
            if (got is not null) Assert.Equal(before, got);
            await store.PutAsync($"http://a/later/{i}", Stores.Response(body), CancellationToken.None).AsTask().WaitAsync(Deadline);
            await store.RemoveAsync($"http://a/before/{i % 10}", CancellationToken.None).AsTask().WaitAsync(Deadline);
        }

        Assert.False(store.Healthy);
        Assert.True(store.Failures > 1, $"{store.Failures} failures");
        Assert.Equal(1, log.Count(FailingEvent));

        // A minute on, the next failure is logged again.
        time.Advance(options.FailureLogInterval);
        await store.PutAsync("http://a/a-minute-later", Stores.Response(body), CancellationToken.None).AsTask().WaitAsync(Deadline);
        Assert.Equal(2, log.Count(FailingEvent));

        // A node with a failing disk still stops.
        await store.DisposeAsync().AsTask().WaitAsync(Deadline);
    }

    /// <summary>
    /// Waits for <paramref name="operation"/>. One that is still pending after two seconds of real time
    /// (a healthy one takes milliseconds) is stuck: the store's clock moves past its operation timeout.
    /// </summary>
    private static async Task Completes(Task operation, FakeTimeProvider time, DiskStoreOptions options)
    {
        var until = DateTime.UtcNow + Deadline;
        while (await Task.WhenAny(operation, Task.Delay(TimeSpan.FromSeconds(2))) != operation)
        {
            Assert.True(DateTime.UtcNow < until, $"a store call did not return in {Deadline}");
            time.Advance(options.OperationTimeout);
        }

        await operation;
    }
}
