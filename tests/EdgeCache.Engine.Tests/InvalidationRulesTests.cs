using EdgeCache.Engine;

namespace EdgeCache.Engine.Tests;

public sealed class InvalidationRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    private static string? Locate(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var u) ? InvalidationRules.LocationOf(CacheKey.Build(u.Scheme, u.IsDefaultPort ? u.Host : u.Authority, u.PathAndQuery, new HostCachePolicy())) : null;

    private static InvalidationEvent Purge(Action<InvalidationEventBuilder> build)
    {
        var b = new InvalidationEventBuilder();
        build(b);
        return b.Build();
    }

    private sealed class InvalidationEventBuilder
    {
        public string[] Urls = [], Prefixes = [], Tags = [], Hosts = [];
        public string[]? Scope;
        public bool Soft;
        public long? MaxAge;

        public InvalidationEvent Build() => new()
        {
            Id = "t",
            Kind = MaxAge is null ? InvalidationKind.Purge : InvalidationKind.Ttl,
            Urls = Urls,
            Prefixes = Prefixes,
            Tags = Tags,
            Hosts = Hosts,
            Scope = Scope,
            Soft = Soft,
            MaxAge = MaxAge,
        };
    }

    [Fact]
    public void A_url_purge_applies_to_copies_stored_before_it_under_either_scheme_and_not_after()
    {
        var rules = new InvalidationRules();
        rules.Apply(Purge(b => b.Urls = ["https://WWW.example.com/a.jpg"]), 10, Now, Locate);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://www.example.com/a.jpg", [], 9).Kind);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("https://www.example.com/a.jpg", [], 0).Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://www.example.com/a.jpg", [], 10).Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://www.example.com/b.jpg", [], 9).Kind);
        Assert.Equal(10UL, rules.MaxSeq);
    }

    [Fact]
    public void A_prefix_purge_matches_the_path_start_on_its_own_host_only()
    {
        var rules = new InvalidationRules();
        rules.Apply(Purge(b => b.Prefixes = ["http://www.example.com/img/"]), 5, Now, Locate);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://www.example.com/img/a/b.png", [], 1).Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://www.example.com/images/x", [], 1).Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://other.example.com/img/a", [], 1).Kind);
    }

    [Fact]
    public void A_tag_purge_stays_within_the_issuing_keys_hosts()
    {
        var rules = new InvalidationRules();
        rules.Apply(Purge(b => { b.Tags = ["product-42"]; b.Scope = ["www.example.com"]; }), 3, Now, Locate);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://www.example.com/p", ["x", "product-42"], 1).Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://img.example.com/p", ["product-42"], 1).Kind);
        rules.Apply(Purge(b => b.Tags = ["product-42"]), 4, Now, Locate);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://img.example.com/p", ["product-42"], 1).Kind);
    }

    [Fact]
    public void Hosts_and_all_select_everything_stored_for_them()
    {
        var rules = new InvalidationRules();
        rules.Apply(Purge(b => b.Hosts = ["img.example.com"]), 2, Now, Locate);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://img.example.com:8080/x", [], 1).Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://www.example.com/x", [], 1).Kind);
        rules.PurgeAll(7);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://www.example.com/x", [], 6).Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://www.example.com/x", [], 7).Kind);
    }

    [Fact]
    public void The_newest_rule_wins_and_a_hard_purge_beats_soft_and_ttl()
    {
        var rules = new InvalidationRules();
        rules.Apply(Purge(b => { b.Urls = ["http://a.test/x"]; b.Soft = true; }), 1, Now, Locate);
        Assert.Equal(RuleKind.Soft, rules.Evaluate("http://a.test/x", [], 0).Kind);
        rules.Apply(Purge(b => { b.Urls = ["http://a.test/x"]; b.MaxAge = 60; }), 2, Now, Locate);
        var ttl = rules.Evaluate("http://a.test/x", [], 0);
        Assert.Equal(RuleKind.Ttl, ttl.Kind);
        Assert.Equal(Now.AddSeconds(60), ttl.ExpiresAt);
        Assert.Equal(RuleKind.Ttl, rules.Evaluate("http://a.test/x", [], 1).Kind);
        rules.Apply(Purge(b => b.Hosts = ["a.test"]), 3, Now, Locate);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://a.test/x", [], 2).Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://a.test/x", [], 3).Kind);
    }

    [Fact]
    public void Rules_survive_a_save_and_load()
    {
        var rules = new InvalidationRules();
        rules.Apply(Purge(b => b.Urls = ["http://a.test/x"]), 4, Now, Locate);
        rules.Apply(Purge(b => { b.Tags = ["t"]; b.Soft = true; b.Scope = ["a.test"]; }), 5, Now, Locate);
        rules.Apply(Purge(b => b.Prefixes = ["http://a.test/p/"]), 6, Now, Locate);
        var saved = rules.Save(appliedSeq: 6);

        var loaded = new InvalidationRules();
        Assert.Equal(6UL, loaded.Load(saved));
        Assert.Equal(6UL, loaded.MaxSeq);
        Assert.Equal(RuleKind.Hard, loaded.Evaluate("http://a.test/x", [], 3).Kind);
        Assert.Equal(RuleKind.Soft, loaded.Evaluate("http://a.test/y", ["t"], 3).Kind);
        Assert.Equal(RuleKind.Hard, loaded.Evaluate("http://a.test/p/q", [], 5).Kind);
        Assert.Null(loaded.Load("not json"u8));
    }

    [Fact]
    public void Past_the_limit_rules_fold_into_host_rules_that_only_purge_more()
    {
        var rules = new InvalidationRules(maxRules: 3);
        rules.Apply(Purge(b => b.Urls = ["http://a.test/1", "http://a.test/2"]), 1, Now, Locate);
        rules.Apply(Purge(b => { b.Urls = ["http://b.test/1"]; b.MaxAge = 3600; }), 2, Now, Locate);
        rules.Apply(Purge(b => b.Urls = ["http://a.test/3"]), 3, Now, Locate);
        Assert.Equal(1, rules.Compactions);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://a.test/1", [], 0).Kind);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://a.test/other", [], 0).Kind); // more than before
        Assert.Equal(RuleKind.Soft, rules.Evaluate("http://b.test/other", [], 0).Kind); // a TTL never extends others
    }

    [Fact]
    public void A_soft_rule_marks_a_stored_copy_stale_and_a_ttl_rule_sets_its_expiry()
    {
        var stored = new CachedResponse
        {
            StatusCode = 200,
            Headers = [],
            Body = CacheBody.FromBytes([1]),
            Directives = default,
            RequestTime = Now,
            ResponseTime = Now,
            CorrectedInitialAge = TimeSpan.Zero,
            FreshnessLifetime = TimeSpan.FromSeconds(30),
            VaryNames = [],
            VaryValues = [],
        };
        Assert.False(stored.WithRule(new RuleMatch(RuleKind.Soft, 1, default), 1).IsFresh(Now));
        var extended = stored.WithRule(new RuleMatch(RuleKind.Ttl, 1, Now.AddSeconds(10).AddSeconds(3600)), 1);
        Assert.True(extended.IsFresh(Now.AddSeconds(3000)));
        Assert.False(extended.IsFresh(Now.AddSeconds(3611)));
    }

    private static InvalidationEvent Refresh(string keep, params string[] urls) => new() { Id = "r", Kind = InvalidationKind.Purge, Urls = urls, KeepCopy = keep };

    [Fact]
    public void A_refresh_purges_every_older_copy_of_its_urls_but_the_one_it_keeps()
    {
        var rules = new InvalidationRules();
        rules.Apply(Refresh("new-copy", "http://www.example.com/p"), seq: 10, Now, Locate);

        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://www.example.com/p", [], storedSeq: 9).Kind);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("https://www.example.com/p", [], storedSeq: 9, copyId: "an-older-refresh").Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://www.example.com/p", [], storedSeq: 9, copyId: "new-copy").Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://www.example.com/p", [], storedSeq: 10).Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://www.example.com/other", [], storedSeq: 9).Kind);
    }

    [Fact]
    public void A_newer_refresh_or_a_plain_purge_removes_the_copy_an_earlier_refresh_kept()
    {
        var rules = new InvalidationRules();
        rules.Apply(Refresh("first", "http://www.example.com/p"), seq: 10, Now, Locate);
        rules.Apply(Refresh("second", "http://www.example.com/p"), seq: 12, Now, Locate);

        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://www.example.com/p", [], storedSeq: 11, copyId: "first").Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate("http://www.example.com/p", [], storedSeq: 9, copyId: "second").Kind);

        rules.Apply(Purge(b => b.Urls = ["http://www.example.com/p"]), seq: 13, Now, Locate);
        Assert.Equal(RuleKind.Hard, rules.Evaluate("http://www.example.com/p", [], storedSeq: 12, copyId: "second").Kind);
    }

    [Fact]
    public void A_refresh_rule_survives_a_snapshot_and_is_folded_into_a_hard_host_purge()
    {
        var rules = new InvalidationRules();
        rules.Apply(Refresh("kept", "http://www.example.com/p"), seq: 10, Now, Locate);
        var loaded = new InvalidationRules();
        Assert.Equal(10UL, loaded.Load(rules.Save(appliedSeq: 10)));
        Assert.Equal(RuleKind.Hard, loaded.Evaluate("http://www.example.com/p", [], storedSeq: 9).Kind);
        Assert.Equal(RuleKind.None, loaded.Evaluate("http://www.example.com/p", [], storedSeq: 9, copyId: "kept").Kind);

        var small = new InvalidationRules(maxRules: 1);
        small.Apply(Refresh("kept", "http://www.example.com/p"), seq: 10, Now, Locate);
        small.Apply(Purge(b => b.Urls = ["http://www.example.com/q"]), seq: 11, Now, Locate);
        Assert.Equal(RuleKind.Hard, small.Evaluate("http://www.example.com/p", [], storedSeq: 9, copyId: "kept").Kind);
        Assert.Equal(RuleKind.Hard, small.Evaluate("http://www.example.com/elsewhere", [], storedSeq: 9).Kind);
    }
}
