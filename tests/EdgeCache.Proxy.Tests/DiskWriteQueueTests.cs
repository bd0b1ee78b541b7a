using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Proxy.Tests;

/// <summary>The write queue's rules, with writes that finish when the test says (issue 23).</summary>
public sealed class DiskWriteQueueTests
{
    private const int Mib = 1024 * 1024;

    private readonly List<(string Key, TaskCompletionSource Done)> _started = [];
    private readonly object _lock = new();

    private DiskWriteQueue Queue(long budget, int concurrency = 8) => new(budget, concurrency, w =>
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock) _started.Add((w.PrimaryKey, done));
        return done.Task;
    });

    private static DiskWriteQueue.Write Object(string key, int bytes)
    {
        var now = DateTimeOffset.UtcNow;
        var entry = CachedResponseFactory.Create(200, new HeaderDictionary { ["Cache-Control"] = "max-age=60" }, new HeaderDictionary(), CacheBody.FromBytes(new byte[bytes]), now, now, HeuristicOptions.Default);
        return new DiskWriteQueue.Write(key, entry);
    }

    private async Task<TaskCompletionSource> StartedAsync(string key)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            lock (_lock)
            {
                foreach (var (k, done) in _started) if (k == key) return done;
            }

            await Task.Yield();
        }

        throw new TimeoutException(key + " was never written");
    }

    [Fact]
    public async Task Writes_within_the_budget_are_admitted_at_once()
    {
        var queue = Queue(4 * Mib);
        Assert.True(queue.Enqueue(Object("a", Mib), mayDrop: false).IsCompleted);
        Assert.True(queue.Enqueue(Object("b", Mib), mayDrop: true).IsCompleted);
        Assert.Equal(2 * (Mib + 1024), queue.QueuedBytes);
        (await StartedAsync("a")).SetResult();
        (await StartedAsync("b")).SetResult();
        await queue.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, queue.QueuedBytes);
        Assert.Equal(0, queue.DroppedTotal);
    }

    [Fact]
    public async Task A_full_queue_drops_a_copy_that_exists_upstream_and_delays_the_last_copy_until_room_is_made()
    {
        var queue = Queue(3 * Mib);
        Assert.True(queue.Enqueue(Object("a", 2 * Mib), mayDrop: false).IsCompleted);
        Assert.True(queue.Enqueue(Object("upstream-has-it", 2 * Mib), mayDrop: true).IsCompleted);
        Assert.Equal(1, queue.Dropped(DiskWriteDrop.QueueFull));

        var last = queue.Enqueue(Object("last-copy", 2 * Mib), mayDrop: false);
        var later = queue.Enqueue(Object("small-but-later", 1024), mayDrop: false);
        Assert.False(last.IsCompleted);
        Assert.False(later.IsCompleted); // in order: nothing passes a waiting write
        Assert.Equal(2, queue.Delayed);

        (await StartedAsync("a")).SetResult();
        await last.WaitAsync(TimeSpan.FromSeconds(10));
        await later.WaitAsync(TimeSpan.FromSeconds(10));
        (await StartedAsync("last-copy")).SetResult();
        (await StartedAsync("small-but-later")).SetResult();
        await queue.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, queue.DroppedTotal);
        lock (_lock) Assert.DoesNotContain(_started, s => s.Key == "upstream-has-it");
    }

    [Fact]
    public async Task An_object_larger_than_the_whole_budget_is_written_alone()
    {
        var queue = Queue(Mib);
        Assert.True(queue.Enqueue(Object("big", 3 * Mib), mayDrop: false).IsCompleted);
        var next = queue.Enqueue(Object("next", 1024), mayDrop: false);
        Assert.False(next.IsCompleted);
        (await StartedAsync("big")).SetResult();
        await next.WaitAsync(TimeSpan.FromSeconds(10));
        (await StartedAsync("next")).SetResult();
        await queue.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task At_most_the_configured_writes_run_at_once_and_a_failed_write_does_not_stop_the_queue()
    {
        var queue = new DiskWriteQueue(64 * Mib, 2, w => w.PrimaryKey == "fails" ? Task.FromException(new IOException("disk")) : WriteAsync(w));
        async Task WriteAsync(DiskWriteQueue.Write w)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock) _started.Add((w.PrimaryKey, done));
            await done.Task;
        }

        _ = queue.Enqueue(Object("fails", 1024), mayDrop: false);
        for (var i = 0; i < 4; i++) _ = queue.Enqueue(Object("w" + i, 1024), mayDrop: false);
        var first = await StartedAsync("w0");
        var second = await StartedAsync("w1");
        lock (_lock) Assert.Equal(2, _started.Count);
        first.SetResult();
        second.SetResult();
        (await StartedAsync("w2")).SetResult();
        (await StartedAsync("w3")).SetResult();
        await queue.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, queue.QueuedBytes);
    }
}
