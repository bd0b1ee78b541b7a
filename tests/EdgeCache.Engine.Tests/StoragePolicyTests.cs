using Microsoft.AspNetCore.Http;
using static EdgeCache.Engine.Tests.TestData;

namespace EdgeCache.Engine.Tests;

public class StoragePolicyTests
{
    private static StoreDecision Evaluate(
        HeaderDictionary response, HeaderDictionary? request = null, int status = 200, string method = "GET", HostCachePolicy? policy = null) =>
        StoragePolicy.Evaluate(method, request ?? Headers(), status, response, policy ?? HostCachePolicy.Default);

    [Theory]
    [InlineData(200)]
    [InlineData(204)]
    [InlineData(301)]
    [InlineData(302)]
    [InlineData(307)]
    [InlineData(404)]
    public void Rfc9111_5_2_2_3_must_understand_with_an_understood_status_stores_despite_no_store(int status)
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Cache-Control", "must-understand, no-store, max-age=60")), status: status));
    }

    [Theory]
    [InlineData(299)]
    [InlineData(207)]
    [InlineData(599)]
    public void Rfc9111_5_2_2_3_must_understand_with_a_status_not_understood_is_not_stored(int status)
    {
        Assert.NotEqual(StoreDecision.Store, Evaluate(Headers(("Cache-Control", "must-understand, no-store, max-age=60")), status: status));
        Assert.NotEqual(StoreDecision.Store, Evaluate(Headers(("Cache-Control", "must-understand, public, max-age=60")), status: status));
    }

    [Fact]
    public void Rfc9111_5_2_2_5_no_store_without_must_understand_still_holds()
    {
        Assert.Equal(StoreDecision.ResponseNoStore, Evaluate(Headers(("Cache-Control", "no-store, max-age=60"))));
    }

    [Theory]
    [InlineData(200)]
    [InlineData(203)]
    [InlineData(204)]
    [InlineData(300)]
    [InlineData(301)]
    [InlineData(308)]
    [InlineData(404)]
    [InlineData(405)]
    [InlineData(410)]
    [InlineData(414)]
    [InlineData(501)]
    public void Rfc9111_4_2_2_every_heuristically_cacheable_status_is_stored_and_gets_heuristic_freshness(int status)
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Last-Modified", Http(T0.AddDays(-10)))), status: status));
        var lifetime = Freshness.Lifetime(status, default, true, default, T0, T0.AddDays(-10), HeuristicOptions.Default);
        Assert.Equal((TimeSpan.FromDays(1), true), lifetime);
    }

    [Theory]
    [InlineData(302)]
    [InlineData(307)]
    public void Rfc9111_4_2_2_public_allows_heuristic_freshness_for_other_statuses(int status)
    {
        var pub = new CacheDirectives { Present = true, Public = true };
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Cache-Control", "public"), ("Last-Modified", Http(T0.AddDays(-10)))), status: status));
        Assert.Equal((TimeSpan.FromDays(1), true), Freshness.Lifetime(status, pub, true, default, T0, T0.AddDays(-10), HeuristicOptions.Default));
        Assert.Null(Freshness.Lifetime(status, default, true, default, T0, T0.AddDays(-10), HeuristicOptions.Default));
    }

    [Theory]
    [InlineData(400, "max-age=60", StoreDecision.Store)]
    [InlineData(500, "s-maxage=60", StoreDecision.Store)]
    [InlineData(503, "public", StoreDecision.NoFreshnessInformation)]
    [InlineData(500, "no-store, max-age=60", StoreDecision.ResponseNoStore)]
    public void StoreErrorStatuses_stores_errors_with_explicit_freshness_only(int status, string cacheControl, StoreDecision expected)
    {
        var policy = new HostCachePolicy { StoreErrorStatuses = true };
        Assert.Equal(expected, Evaluate(Headers(("Cache-Control", cacheControl)), status: status, policy: policy));
        Assert.Equal(StoreDecision.StatusNotCacheable, Evaluate(Headers(("Cache-Control", cacheControl)), status: status));
    }

    [Fact]
    public void StoreErrorStatuses_caps_an_error_status_freshness_at_ErrorStatusMax_and_leaves_others_alone()
    {
        var heuristics = HeuristicOptions.Default with { ErrorStatusMax = TimeSpan.FromSeconds(7) };
        var error = CachedResponseFactory.Create(500, Headers(("Date", Http(T0)), ("Cache-Control", "max-age=600")), Headers(), CacheBody.FromBytes([1]), T0, T0, heuristics);
        var notFound = CachedResponseFactory.Create(404, Headers(("Date", Http(T0)), ("Cache-Control", "max-age=600")), Headers(), CacheBody.FromBytes([1]), T0, T0, heuristics);
        var short500 = CachedResponseFactory.Create(500, Headers(("Date", Http(T0)), ("Cache-Control", "max-age=3")), Headers(), CacheBody.FromBytes([1]), T0, T0, heuristics);

        Assert.Equal(TimeSpan.FromSeconds(7), error.FreshnessLifetime);
        Assert.Equal(TimeSpan.FromSeconds(600), notFound.FreshnessLifetime);
        Assert.Equal(TimeSpan.FromSeconds(3), short500.FreshnessLifetime);
    }

    [Fact]
    public void Rfc9111_3_Plain_200_is_stored_heuristically()
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers()));
    }

    [Fact]
    public void Rfc9111_3_200_with_max_age_is_stored()
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Cache-Control", "max-age=60"))));
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("HEAD")]
    [InlineData("OPTIONS")]
    [InlineData("PATCH")]
    public void Rfc9111_3_Only_GET_responses_are_stored(string method)
    {
        Assert.Equal(StoreDecision.MethodNotCacheable, Evaluate(Headers(("Cache-Control", "public, max-age=60")), method: method));
    }

    [Fact]
    public void Rfc9111_3_GET_method_name_is_case_insensitive()
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Cache-Control", "max-age=60")), method: "get"));
    }

    [Theory]
    [InlineData(100)]
    [InlineData(103)]
    [InlineData(304)]
    public void Rfc9111_3_Interim_and_not_modified_responses_are_not_stored(int status)
    {
        Assert.Equal(StoreDecision.StatusNotCacheable, Evaluate(Headers(("Cache-Control", "public, max-age=60")), status: status));
    }

    [Theory]
    [InlineData(302)]
    [InlineData(303)]
    [InlineData(307)]
    [InlineData(201)]
    public void Rfc9111_3_Status_not_heuristically_cacheable_without_explicit_freshness_is_not_stored(int status)
    {
        Assert.Equal(StoreDecision.NoFreshnessInformation, Evaluate(Headers(("Last-Modified", Http(T0.AddDays(-1)))), status: status));
    }

    [Theory]
    [InlineData(400)]
    [InlineData(403)]
    [InlineData(431)]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    public void Error_responses_that_are_not_heuristically_cacheable_are_never_stored_even_with_max_age(int status)
    {
        Assert.Equal(StoreDecision.StatusNotCacheable, Evaluate(Headers(("Cache-Control", "public, max-age=600")), status: status));
    }

    [Theory]
    [InlineData(404)]
    [InlineData(410)]
    [InlineData(501)]
    public void Heuristically_cacheable_error_responses_are_stored_with_explicit_freshness(int status)
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Cache-Control", "max-age=600")), status: status));
    }

    [Theory]
    [InlineData("Cache-Control", "max-age=60")]
    [InlineData("Cache-Control", "s-maxage=60")]
    [InlineData("Cache-Control", "public")]
    [InlineData("Expires", "Wed, 01 Jan 2025 13:00:00 GMT")]
    [InlineData("Expires", "0")]
    public void Rfc9111_3_302_with_explicit_freshness_or_public_is_stored(string name, string value)
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers((name, value)), status: 302));
    }

    [Theory]
    [InlineData(203)]
    [InlineData(204)]
    [InlineData(301)]
    [InlineData(308)]
    [InlineData(404)]
    [InlineData(410)]
    [InlineData(501)]
    public void Rfc9111_3_Heuristically_cacheable_status_is_stored_without_explicit_freshness(int status)
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(), status: status));
    }

    [Fact]
    public void Rfc9111_5_2_2_4_No_cache_with_validator_is_stored_for_revalidation()
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Cache-Control", "no-cache"), ("ETag", "\"v1\"")), status: 302));
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Cache-Control", "no-cache"), ("Last-Modified", Http(T0))), status: 302));
        Assert.Equal(StoreDecision.NoFreshnessInformation, Evaluate(Headers(("Cache-Control", "no-cache")), status: 302));
    }

    [Fact]
    public void Rfc9111_5_2_1_5_Request_no_store_is_not_stored()
    {
        var decision = Evaluate(Headers(("Cache-Control", "public, max-age=60")), Headers(("Cache-Control", "no-store")));

        Assert.Equal(StoreDecision.RequestNoStore, decision);
    }

    [Theory]
    [InlineData("no-store")]
    [InlineData("public, max-age=60, no-store")]
    [InlineData("NO-STORE")]
    public void Rfc9111_5_2_2_5_Response_no_store_is_not_stored(string cacheControl)
    {
        Assert.Equal(StoreDecision.ResponseNoStore, Evaluate(Headers(("Cache-Control", cacheControl))));
    }

    [Theory]
    [InlineData("private")]
    [InlineData("private, max-age=60")]
    [InlineData("private=\"Set-Cookie\", s-maxage=60")]
    public void Rfc9111_5_2_2_7_Private_is_not_stored_by_a_shared_cache(string cacheControl)
    {
        Assert.Equal(StoreDecision.Private, Evaluate(Headers(("Cache-Control", cacheControl))));
    }

    [Theory]
    [InlineData("max-age=60")]
    [InlineData("")]
    [InlineData("no-cache")]
    public void Rfc9111_3_5_Authorization_without_explicit_permission_is_not_stored(string cacheControl)
    {
        var response = cacheControl.Length == 0 ? Headers() : Headers(("Cache-Control", cacheControl));

        Assert.Equal(StoreDecision.Authorization, Evaluate(response, Headers(("Authorization", "Bearer abc"))));
    }

    [Theory]
    [InlineData("public")]
    [InlineData("public, max-age=60")]
    [InlineData("s-maxage=60")]
    [InlineData("must-revalidate, max-age=60")]
    public void Rfc9111_3_5_Authorization_with_public_s_maxage_or_must_revalidate_is_stored(string cacheControl)
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Cache-Control", cacheControl)), Headers(("Authorization", "Bearer abc"))));
    }

    [Fact]
    public void Rfc9111_7_3_Set_Cookie_is_not_stored_by_default()
    {
        var response = Headers(("Cache-Control", "public, max-age=60"), ("Set-Cookie", "session=1"));

        Assert.False(HostCachePolicy.Default.StoreSetCookie);
        Assert.Equal(StoreDecision.SetCookie, Evaluate(response));
        Assert.Equal(StoreDecision.SetCookie, Evaluate(response, policy: new HostCachePolicy { StoreSetCookie = false }));
    }

    [Fact]
    public void Rfc9111_7_3_Set_Cookie_is_stored_when_the_host_allows_it()
    {
        var response = Headers(("Cache-Control", "public, max-age=60"), ("Set-Cookie", "session=1"));

        Assert.Equal(StoreDecision.Store, Evaluate(response, policy: new HostCachePolicy { StoreSetCookie = true }));
    }

    [Theory]
    [InlineData("*")]
    [InlineData("Accept-Encoding, *")]
    [InlineData(" * ")]
    public void Rfc9111_4_1_Vary_star_is_not_stored(string vary)
    {
        Assert.Equal(StoreDecision.VaryStar, Evaluate(Headers(("Cache-Control", "max-age=60"), ("Vary", vary))));
    }

    [Fact]
    public void Rfc9111_4_1_Vary_star_on_a_second_field_line_is_not_stored()
    {
        Assert.Equal(StoreDecision.VaryStar, Evaluate(Headers(("Cache-Control", "max-age=60"), ("Vary", "Accept-Encoding"), ("Vary", "*"))));
    }

    [Fact]
    public void Rfc9111_4_1_Vary_on_named_fields_is_stored()
    {
        Assert.Equal(StoreDecision.Store, Evaluate(Headers(("Cache-Control", "max-age=60"), ("Vary", "Accept-Encoding, Accept-Language"))));
    }

    [Fact]
    public void Rfc9213_2_1_CDN_Cache_Control_no_store_wins_over_Cache_Control_max_age()
    {
        var response = Headers(("CDN-Cache-Control", "no-store"), ("Cache-Control", "max-age=60"));

        Assert.Equal(StoreDecision.ResponseNoStore, Evaluate(response));
    }

    [Fact]
    public void Rfc9213_2_1_CDN_Cache_Control_max_age_wins_over_Cache_Control_private()
    {
        var response = Headers(("CDN-Cache-Control", "max-age=60"), ("Cache-Control", "private"));

        Assert.Equal(StoreDecision.Store, Evaluate(response));
    }

    [Fact]
    public void Rfc9213_2_1_CDN_Cache_Control_max_age_wins_over_Cache_Control_no_store()
    {
        var response = Headers(("CDN-Cache-Control", "max-age=60"), ("Cache-Control", "no-store"));

        Assert.Equal(StoreDecision.Store, Evaluate(response));
    }

    [Fact]
    public void Rfc9213_2_1_Expires_is_ignored_when_CDN_Cache_Control_is_present()
    {
        var response = Headers(("CDN-Cache-Control", "no-transform"), ("Expires", "Wed, 01 Jan 2025 13:00:00 GMT"));

        Assert.Equal(StoreDecision.NoFreshnessInformation, Evaluate(response, status: 302));
    }

    [Theory]
    [InlineData(",")]
    [InlineData("max-age=60,")]
    [InlineData("Max-Age=60")] // sf-dictionary keys are lower case
    [InlineData("max-age=60 s-maxage=10")]
    [InlineData("max-age=\"60")]
    [InlineData("max-age=1234567890123456")] // sf-integer has at most 15 digits
    [InlineData("max-age=60;")]
    [InlineData("no-store, =5")]
    public void Rfc9213_2_1_a_CDN_Cache_Control_that_fails_to_parse_is_ignored_and_Cache_Control_applies(string invalid)
    {
        var response = Headers(("CDN-Cache-Control", invalid), ("Cache-Control", "private"));

        Assert.False(StructuredFieldSyntax.IsDictionary(new Microsoft.Extensions.Primitives.StringValues(invalid)));
        Assert.Equal(StoreDecision.Private, Evaluate(response));
    }

    [Theory]
    [InlineData("max-age=60")]
    [InlineData("max-age=60, stale-while-revalidate=30")]
    [InlineData("no-store")]
    [InlineData("  public,max-age=0  ")]
    [InlineData("max-age=60;foo=bar, x=?1, y=(a b \"c\");q=1.5, z=:aGk=:, w=-3, *star")]
    public void Rfc8941_valid_dictionaries_are_accepted(string valid)
    {
        Assert.True(StructuredFieldSyntax.IsDictionary(new Microsoft.Extensions.Primitives.StringValues(valid)));
    }

    [Theory]
    [InlineData("max-age=\"10000\"")]
    [InlineData("max-age=10.5")]
    [InlineData("max-age")]
    [InlineData("s-maxage=?1")]
    [InlineData("max-age=(1 2)")]
    [InlineData("public, stale-if-error=\"5\"")]
    [InlineData("stale-while-revalidate=abc, max-age=60")]
    public void Rfc9213_2_1_a_CDN_Cache_Control_whose_delta_directive_is_not_an_integer_is_ignored_and_Cache_Control_no_store_holds(string wrongType)
    {
        var field = new Microsoft.Extensions.Primitives.StringValues(wrongType);
        var response = Headers(("CDN-Cache-Control", wrongType), ("Cache-Control", "no-store"));

        Assert.True(StructuredFieldSyntax.IsDictionary(field));
        Assert.False(StructuredFieldSyntax.IsCacheDirectives(field));
        Assert.Equal(StoreDecision.ResponseNoStore, Evaluate(response));
        Assert.Equal(new CacheDirectives { Present = true, NoStore = true }, StoragePolicy.EffectiveDirectives(response).Directives);
    }

    [Theory]
    [InlineData("max-age=60")]
    [InlineData("max-age=-1")]
    [InlineData("max-age=60;foo=bar, s-maxage=0")]
    [InlineData("no-store, x-ext=\"str\"")]
    public void Rfc9213_2_1_integer_delta_directives_are_accepted(string valid)
    {
        Assert.True(StructuredFieldSyntax.IsCacheDirectives(new Microsoft.Extensions.Primitives.StringValues(valid)));
    }

    [Theory]
    [InlineData("max-age=10;foo=bar", 10L)]
    [InlineData("max-age=10;foo", 10L)]
    [InlineData("max-age=10; a=1;b=\"x,y\"", 10L)]
    [InlineData("max-age=10;q=1.5, public;x", 10L)]
    [InlineData("s-maxage=20;foo=?1", null)]
    public void Rfc9213_2_1_parameters_on_a_CDN_Cache_Control_member_are_ignored(string field, long? maxAge)
    {
        // RFC 9213 §2.1: "Parameters received on directives are to be ignored". max-age=10;foo=bar
        // is the member max-age with value 10 and a parameter, not an invalid max-age.
        IHeaderDictionary response = Headers(("CDN-Cache-Control", field), ("Cache-Control", "no-store"));

        var (directives, useExpires) = StoragePolicy.EffectiveDirectives(response);

        Assert.Equal(maxAge, directives.MaxAge);
        Assert.Equal(field.StartsWith("s-maxage", StringComparison.Ordinal) ? 20 : null, directives.SharedMaxAge);
        Assert.Equal(field.Contains("public", StringComparison.Ordinal), directives.Public);
        Assert.False(directives.NoStore);
        Assert.False(useExpires);
        Assert.Equal(StoreDecision.Store, Evaluate((HeaderDictionary)response));
    }

    [Fact]
    public void Rfc9213_2_1_a_parameter_on_a_boolean_CDN_Cache_Control_member_keeps_the_directive()
    {
        var response = Headers(("CDN-Cache-Control", "no-store;reason=\"x\", private;a=1"), ("Cache-Control", "max-age=60"));

        var directives = StoragePolicy.EffectiveDirectives(response).Directives;

        Assert.True(directives.NoStore);
        Assert.True(directives.Private);
        Assert.Equal(StoreDecision.ResponseNoStore, Evaluate(response));
    }

    [Fact]
    public void Rfc8941_4_2_2_a_repeated_CDN_Cache_Control_key_takes_its_last_value_unlike_Cache_Control()
    {
        // RFC 8941 §4.2.2: a Dictionary's later duplicate key overwrites the earlier one; Cache-Control
        // keeps its first (RFC 9111 §4.2.1).
        Assert.Equal(600, StoragePolicy.EffectiveDirectives(Headers(("CDN-Cache-Control", "max-age=10, max-age=600"))).Directives.MaxAge);
        Assert.Equal(600, StoragePolicy.EffectiveDirectives(Headers(("CDN-Cache-Control", "max-age=10"), ("CDN-Cache-Control", "max-age=600"))).Directives.MaxAge);
        Assert.Equal(10, StoragePolicy.EffectiveDirectives(Headers(("Cache-Control", "max-age=10, max-age=600"))).Directives.MaxAge);
    }

    [Fact]
    public void Rfc9111_1_2_2_parameters_after_a_Cache_Control_delta_are_not_delta_seconds()
    {
        // Cache-Control is not a Structured Field: max-age=10;foo=bar is not delta-seconds, so stale.
        Assert.Equal(-1, StoragePolicy.EffectiveDirectives(Headers(("Cache-Control", "max-age=10;foo=bar"))).Directives.MaxAge);
    }

    [Fact]
    public void Rfc9213_2_EdgeCache_Cache_Control_takes_precedence_over_CDN_Cache_Control_and_Cache_Control()
    {
        IHeaderDictionary response = Headers(("EdgeCache-Cache-Control", "max-age=600"), ("CDN-Cache-Control", "no-store"), ("Cache-Control", "private"));

        var (directives, useExpires) = StoragePolicy.EffectiveDirectives(response);

        Assert.Equal(new CacheDirectives { Present = true, MaxAge = 600 }, directives);
        Assert.False(useExpires);
        Assert.Equal(StoreDecision.Store, Evaluate((HeaderDictionary)response));
    }

    [Fact]
    public void Rfc9213_2_EdgeCache_Cache_Control_no_store_wins_over_CDN_Cache_Control_max_age()
    {
        var response = Headers(("EdgeCache-Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=600"));

        Assert.Equal(StoreDecision.ResponseNoStore, Evaluate(response));
    }

    [Theory]
    [InlineData("max-age=\"600\"")]
    [InlineData("Max-Age=600")]
    [InlineData("")]
    public void Rfc9213_2_1_an_invalid_EdgeCache_Cache_Control_is_ignored_and_CDN_Cache_Control_applies(string invalid)
    {
        IHeaderDictionary response = Headers(("EdgeCache-Cache-Control", invalid), ("CDN-Cache-Control", "max-age=30"), ("Cache-Control", "no-store"));

        Assert.Equal(new CacheDirectives { Present = true, MaxAge = 30 }, StoragePolicy.EffectiveDirectives(response).Directives);
    }

    [Fact]
    public void Rfc9213_2_1_Empty_CDN_Cache_Control_falls_back_to_Cache_Control()
    {
        var response = Headers(("CDN-Cache-Control", ""), ("Cache-Control", "private"));

        Assert.Equal(StoreDecision.Private, Evaluate(response));
    }

    [Fact]
    public void Rfc9213_2_1_Effective_directives_come_from_CDN_Cache_Control()
    {
        IHeaderDictionary response = Headers(("CDN-Cache-Control", "max-age=600"), ("Cache-Control", "max-age=5, private"));

        var (directives, useExpires) = StoragePolicy.EffectiveDirectives(response);

        Assert.Equal(new CacheDirectives { Present = true, MaxAge = 600 }, directives);
        Assert.False(useExpires);
    }

    [Fact]
    public void Rfc9213_2_1_Effective_directives_without_CDN_Cache_Control_are_Cache_Control_and_Expires()
    {
        IHeaderDictionary response = Headers(("Cache-Control", "max-age=5, private"));

        var (directives, useExpires) = StoragePolicy.EffectiveDirectives(response);

        Assert.Equal(new CacheDirectives { Present = true, MaxAge = 5, Private = true }, directives);
        Assert.True(useExpires);
    }

    [Fact]
    public void Rfc9213_2_1_CDN_Cache_Control_private_is_not_stored()
    {
        var response = Headers(("CDN-Cache-Control", "private"), ("Cache-Control", "public, max-age=60"));

        Assert.Equal(StoreDecision.Private, Evaluate(response));
    }

    [Fact]
    public void Rfc9213_3_1_CDN_Cache_Control_with_only_an_unknown_directive_still_overrides_Cache_Control()
    {
        // RFC 9213 section 3.1: "CDN-Cache-Control: none" lets CDNs store what Cache-Control: no-store forbids elsewhere.
        var response = Headers(("Cache-Control", "no-store"), ("CDN-Cache-Control", "none"));

        Assert.Equal(StoreDecision.Store, Evaluate(response));
    }

    [Theory]
    [InlineData("gzip;q=0", "gzip", StoreDecision.EncodingNotAccepted)]
    [InlineData(null, "gzip", StoreDecision.EncodingNotAccepted)]
    [InlineData("br", "gzip", StoreDecision.EncodingNotAccepted)]
    [InlineData("x-gzip", "gzip", StoreDecision.Store)]
    [InlineData("gzip, br", "br", StoreDecision.Store)]
    [InlineData(null, "identity", StoreDecision.Store)]
    public void A_response_is_stored_only_when_the_request_accepts_its_content_coding(string? acceptEncoding, string contentEncoding, StoreDecision expected)
    {
        var request = acceptEncoding is null ? Headers() : Headers(("Accept-Encoding", acceptEncoding));
        Assert.Equal(expected, Evaluate(Headers(("Cache-Control", "max-age=60"), ("Content-Encoding", contentEncoding), ("Vary", "Accept-Encoding")), request: request));
    }
}
