using Xunit.Abstractions;

namespace EdgeCache.Storage.Tests;

/// <summary>
/// Disk:BudgetBytes bounds everything the store keeps on disk (issue 23): the log's segment files,
/// the checkpoints and their index copies, the format marker. Measured by the files' sizes, sampled
/// all the time while twice the budget is written, objects are read back from disk (FASTER copies
/// what it reads to the tail, which takes log space too) and checkpoints are taken.
/// </summary>
public sealed class DiskBudgetTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Stores.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private long FilesBytes()
    {
        long total = 0;
        foreach (var f in Directory.EnumerateFiles(Path.Combine(_dir, "store"), "*", SearchOption.AllDirectories))
        {
            try
            {
                total += new FileInfo(f).Length;
            }
            catch (FileNotFoundException)
            {
                // Deleted between listing and reading (a truncated segment, an outdated checkpoint).
            }
        }

        return total;
    }

    [Fact]
    public async Task The_files_stay_within_the_budget_while_twice_the_budget_is_written_read_and_checkpointed()
    {
        var options = Stores.Small(_dir, budget: 64L * 1024 * 1024);
        await using var store = Stores.Open(options);
        long max = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var b = FilesBytes();
                if (b > Volatile.Read(ref max)) Volatile.Write(ref max, b);
                await Task.Delay(1);
            }
        });

        var random = new Random(7);
        var sizes = new[] { 100 * 1024, 300 * 1024, 1024 * 1024, 3 * 1024 * 1024, (int)options.MaxObjectBytes };
        long written = 0;
        var n = 0;
        var bodies = new Dictionary<int, byte[]>();
        while (written < 2 * options.BudgetBytes)
        {
            var body = Stores.Bytes(sizes[n % sizes.Length], seed: n);
            await store.PutAsync($"http://a/{n}", Stores.Response(body), CancellationToken.None);
            bodies[n] = body;
            written += body.Length;
            n++;

            // Read back recent objects that are already on disk: each read copies records to the tail.
            for (var r = 0; r < 3; r++)
            {
                var k = Math.Max(0, n - 1 - random.Next(12));
                var got = await Stores.GetBytes(store, $"http://a/{k}");
                if (got is not null) Assert.Equal(bodies[k], got);
            }

            if (n % 8 == 0) Assert.True(await store.CheckpointAsync());
            var now = FilesBytes();
            if (now > Volatile.Read(ref max)) Volatile.Write(ref max, now);
        }

        await stop.CancelAsync();
        await sampler;
        output.WriteLine($"{n} objects, {written >> 20} MiB written, {store.TruncatedBytes >> 20} MiB truncated; files at most {max} bytes of a {options.BudgetBytes}-byte budget");
        Assert.True(store.TruncatedBytes > options.BudgetBytes / 2, $"only {store.TruncatedBytes} bytes were truncated");
        Assert.True(max <= options.BudgetBytes, $"the store's files reached {max} bytes, over the {options.BudgetBytes}-byte budget");
        Assert.Equal(0, store.Failures);
    }
}
