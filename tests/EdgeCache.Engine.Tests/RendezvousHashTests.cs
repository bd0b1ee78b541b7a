namespace EdgeCache.Engine.Tests;

public class RendezvousHashTests
{
    private const int KeyCount = 100_000;
    private const double Tolerance = 0.02;

    private static readonly ulong[] Keys = [.. Enumerable.Range(0, KeyCount).Select(i => RendezvousHash.HashKey($"https://cdn.example.com/assets/{i}/app.js"))];

    private static string[] NodeIds(int n) => [.. Enumerable.Range(0, n).Select(i => $"shield-{i}")];

    private static ulong[] Hashes(string[] ids) => [.. ids.Select(RendezvousHash.HashNode)];

    [Fact]
    public void Hashes_are_deterministic_and_distinguish_inputs()
    {
        Assert.Equal(RendezvousHash.HashKey("https://a/1"), RendezvousHash.HashKey("https://a/1"));
        Assert.NotEqual(RendezvousHash.HashKey("https://a/1"), RendezvousHash.HashKey("https://a/2"));
        Assert.Equal(RendezvousHash.HashNode("shield-1"), RendezvousHash.HashNode("shield-1"));
        Assert.NotEqual(RendezvousHash.HashNode("shield-1"), RendezvousHash.HashNode("shield-2"));
        Assert.Equal(Keys.Length, Keys.Distinct().Count());
    }

    [Fact]
    public void Five_nodes_each_own_twenty_percent_of_keys_within_two_points()
    {
        var nodes = Hashes(NodeIds(5));
        var counts = new int[5];

        foreach (var key in Keys)
        {
            counts[RendezvousHash.Pick(key, nodes)]++;
        }

        Assert.Equal(KeyCount, counts.Sum());
        foreach (var c in counts)
        {
            Assert.InRange((double)c / KeyCount, 0.20 - Tolerance, 0.20 + Tolerance);
        }
    }

    [Theory]
    [InlineData(4, 0)]
    [InlineData(4, 3)]
    [InlineData(5, 0)]
    [InlineData(5, 2)]
    [InlineData(5, 4)]
    public void Removing_one_of_N_nodes_moves_only_its_keys_about_one_Nth(int n, int removed)
    {
        var ids = NodeIds(n);
        var before = Hashes(ids);
        var remainingIds = ids.Where((_, i) => i != removed).ToArray();
        var after = Hashes(remainingIds);
        var moved = 0;

        foreach (var key in Keys)
        {
            var ownerBefore = ids[RendezvousHash.Pick(key, before)];
            var ownerAfter = remainingIds[RendezvousHash.Pick(key, after)];
            if (ownerBefore == ids[removed])
            {
                Assert.NotEqual(ids[removed], ownerAfter);
                moved++;
            }
            else
            {
                // A key whose owner stays is never moved.
                Assert.Equal(ownerBefore, ownerAfter);
            }
        }

        Assert.InRange((double)moved / KeyCount, 1.0 / n - Tolerance, 1.0 / n + Tolerance);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Pick_with_exclude_equals_pick_without_the_excluded_node(int n)
    {
        var ids = NodeIds(n);
        var nodes = Hashes(ids);

        for (var removed = 0; removed < n; removed++)
        {
            var remainingIds = ids.Where((_, i) => i != removed).ToArray();
            var remaining = Hashes(remainingIds);
            for (var k = 0; k < 10_000; k++)
            {
                var viaExclude = RendezvousHash.Pick(Keys[k], nodes, [removed]);
                Assert.NotEqual(removed, viaExclude);
                Assert.Equal(remainingIds[RendezvousHash.Pick(Keys[k], remaining)], ids[viaExclude]);
            }
        }
    }

    [Fact]
    public void Pick_with_exclude_skips_the_owner_and_picks_the_runner_up()
    {
        var nodes = Hashes(NodeIds(5));

        for (var k = 0; k < 1000; k++)
        {
            var key = Keys[k];
            var owner = RendezvousHash.Pick(key, nodes);
            var next = RendezvousHash.Pick(key, nodes, [owner]);
            var third = RendezvousHash.Pick(key, nodes, [owner, next]);

            Assert.NotEqual(owner, next);
            Assert.NotEqual(owner, third);
            Assert.NotEqual(next, third);
            Assert.True(RendezvousHash.Score(key, nodes[owner]) > RendezvousHash.Score(key, nodes[next]));
            Assert.True(RendezvousHash.Score(key, nodes[next]) > RendezvousHash.Score(key, nodes[third]));
            for (var i = 0; i < nodes.Length; i++)
            {
                if (i != owner && i != next)
                {
                    Assert.True(RendezvousHash.Score(key, nodes[next]) >= RendezvousHash.Score(key, nodes[i]));
                }
            }
        }
    }

    [Fact]
    public void Pick_returns_minus_one_when_no_node_is_left()
    {
        var nodes = Hashes(NodeIds(3));

        Assert.Equal(-1, RendezvousHash.Pick(Keys[0], nodes, [0, 1, 2]));
        Assert.Equal(-1, RendezvousHash.Pick(Keys[0], []));
    }

    [Fact]
    public void Pick_with_one_node_left_picks_it()
    {
        var nodes = Hashes(NodeIds(3));

        for (var k = 0; k < 100; k++)
        {
            Assert.Equal(1, RendezvousHash.Pick(Keys[k], nodes, [0, 2]));
        }
    }

    [Fact]
    public void Pick_does_not_depend_on_node_order()
    {
        var ids = NodeIds(5);
        var reversedIds = Enumerable.Reverse(ids).ToArray();
        var nodes = Hashes(ids);
        var reversed = Hashes(reversedIds);

        for (var k = 0; k < 10_000; k++)
        {
            Assert.Equal(ids[RendezvousHash.Pick(Keys[k], nodes)], reversedIds[RendezvousHash.Pick(Keys[k], reversed)]);
        }
    }
}
