using EdgeCache.Engine;
using Xunit.Abstractions;

namespace EdgeCache.Storage.Tests;

/// <summary>
/// A store of another format version, or one that cannot be recovered, is set aside (or wiped) and
/// the node starts empty; opening never throws on it and never serves from it.
/// </summary>
public sealed class FormatVersionTests(ITestOutputHelper output) : IDisposable
{
    private const int SetAsideEvent = 2002;
    private const int WipedEvent = 2003;

    private readonly string _dir = Stores.TempDir();
    private readonly byte[] _oldBody = Stores.Bytes(300_000, seed: 21);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string StoreDir => Path.Combine(_dir, "store");

    private string[] SetAsideDirs => Directory.GetDirectories(_dir, "store.set-aside-*");

    [Theory]
    [InlineData("edgecache-disk-store 2\n")] // a newer version
    [InlineData("edgecache-disk-store 0\n")] // an older version
    [InlineData("something else entirely\n")] // not ours
    [InlineData(null)] // no FORMAT file at all
    public async Task A_store_of_another_format_is_set_aside_and_the_node_starts_empty(string? format)
    {
        await WriteOldStore();
        var formatFile = Path.Combine(StoreDir, "FORMAT");
        if (format is null) File.Delete(formatFile);
        else File.WriteAllText(formatFile, format);

        var log = new ListLogger();
        await using (var store = Stores.Open(Stores.Small(_dir), log))
        {
            Assert.Equal(DiskOpenedAs.SetAside, store.OpenedAs);
            Assert.Equal(1, log.Count(SetAsideEvent));
            await AssertEmptyAndWorking(store);
        }

        // The old store is kept whole beside the new one, for inspection.
        var aside = Assert.Single(SetAsideDirs);
        Assert.Equal(StoreDir, aside[..StoreDir.Length]);
        if (format is null) Assert.False(File.Exists(Path.Combine(aside, "FORMAT")));
        else Assert.Equal(format, File.ReadAllText(Path.Combine(aside, "FORMAT")));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(aside, "hlog")));
        Assert.NotEmpty(Directory.GetFileSystemEntries(Path.Combine(aside, "checkpoints")));

        // The new store is of this version and recovers normally from now on.
        Assert.Equal($"edgecache-disk-store {DiskStore.FormatVersion}", File.ReadAllText(Path.Combine(StoreDir, "FORMAT")).Trim());
        await using var again = Stores.Open(Stores.Small(_dir));
        Assert.Equal(DiskOpenedAs.Recovered, again.OpenedAs);
        Assert.Equal(Stores.Bytes(1000, seed: 22), await Stores.GetBytes(again, "http://a/new"));
        Assert.Single(SetAsideDirs);
    }

    [Fact]
    public async Task With_Wipe_a_store_of_another_format_is_deleted_and_the_node_starts_empty()
    {
        await WriteOldStore();
        File.WriteAllText(Path.Combine(StoreDir, "FORMAT"), "edgecache-disk-store 2\n");

        var log = new ListLogger();
        var options = Stores.Small(_dir);
        options.OnIncompatibleStore = IncompatibleStoreAction.Wipe;
        await using var store = Stores.Open(options, log);
        Assert.NotEqual(DiskOpenedAs.Recovered, store.OpenedAs);
        Assert.Equal(1, log.Count(WipedEvent));
        Assert.Equal(0, log.Count(SetAsideEvent));
        Assert.Empty(SetAsideDirs);
        Assert.Equal([StoreDir], Directory.GetDirectories(_dir));
        await AssertEmptyAndWorking(store);
    }

    public static TheoryData<string, bool> Damage => new()
    {
        { "garbage", false },
        { "garbage", true },
        { "empty", false },
        { "empty", true },
    };

    [Theory]
    [MemberData(nameof(Damage))]
    public async Task A_store_whose_checkpoint_cannot_be_recovered_is_set_aside_and_the_node_starts_empty(string damage, bool wipe)
    {
        await WriteOldStore();
        var checkpointFiles = Directory.GetFiles(Path.Combine(StoreDir, "checkpoints"), "*", SearchOption.AllDirectories);
        Assert.NotEmpty(checkpointFiles);
        var random = new Random(23);
        foreach (var file in checkpointFiles)
        {
            var length = new FileInfo(file).Length;
            switch (damage)
            {
                case "garbage":
                    var garbage = new byte[length];
                    random.NextBytes(garbage);
                    File.WriteAllBytes(file, garbage);
                    break;
                default:
                    File.WriteAllBytes(file, []);
                    break;
            }
        }

        var log = new ListLogger();
        var options = Stores.Small(_dir);
        if (wipe) options.OnIncompatibleStore = IncompatibleStoreAction.Wipe;
        await using var store = Stores.Open(options, log);
        if (wipe)
        {
            Assert.NotEqual(DiskOpenedAs.Recovered, store.OpenedAs);
            Assert.Equal(1, log.Count(WipedEvent));
            Assert.Empty(SetAsideDirs);
        }
        else
        {
            Assert.Equal(DiskOpenedAs.SetAside, store.OpenedAs);
            Assert.Equal(1, log.Count(SetAsideEvent));
            Assert.Single(SetAsideDirs);
        }

        await AssertEmptyAndWorking(store);
    }

    [Fact]
    public async Task A_checkpoint_cut_short_is_recovered_or_set_aside_and_never_serves_wrong_bytes()
    {
        // Half of every checkpoint file is gone: FASTER may still recover (the info fits in the first
        // half of its sector, the lost half of the index only loses entries) or give up.
        await WriteOldStore();
        foreach (var file in Directory.GetFiles(Path.Combine(StoreDir, "checkpoints"), "*", SearchOption.AllDirectories))
        {
            using var f = File.OpenWrite(file);
            f.SetLength(f.Length / 2);
        }

        await using var store = Stores.Open(Stores.Small(_dir));
        Assert.Contains(store.OpenedAs, new[] { DiskOpenedAs.Recovered, DiskOpenedAs.SetAside });
        var old = await Stores.GetBytes(store, "http://a/old");
        output.WriteLine($"opened as {store.OpenedAs.ToWord()}; the old object is {(old is null ? "gone" : "there")}");
        if (old is not null) Assert.Equal(_oldBody, old);
        Assert.Equal(0, store.Failures);
        var body = Stores.Bytes(1000, seed: 22);
        await store.PutAsync("http://a/new", Stores.Response(body), CancellationToken.None);
        Assert.Equal(body, await Stores.GetBytes(store, "http://a/new"));
        Assert.True(store.Healthy);
    }

    private async Task WriteOldStore()
    {
        await using var store = Stores.Open(Stores.Small(_dir));
        await store.PutAsync("http://a/old", Stores.Response(_oldBody), CancellationToken.None);
    }

    private static async Task AssertEmptyAndWorking(DiskStore store)
    {
        Assert.Null(await store.GetAsync("http://a/old", Stores.NoHeaders, long.MaxValue, CancellationToken.None));
        Assert.Equal(0, store.Failures);
        var body = Stores.Bytes(1000, seed: 22);
        await store.PutAsync("http://a/new", Stores.Response(body), CancellationToken.None);
        Assert.Equal(body, await Stores.GetBytes(store, "http://a/new"));
        Assert.True(store.Healthy);
    }
}
