namespace Acme.Api;

public static class Constants
{
    public const string Feature0Id = "96d8a078-fa49-4883-a18a-6b6417f6b23a";
    public const string Asset0Hash = "c1a0441b986e01b8b941c7e22e8ecb948fe84429";
    public const string Feature1Id = "30d6d213-12ff-4512-ac1e-ebdf64a08d01";
    public const string Asset1Hash = "364d038901f4ba464521ea7d2d18f5382ece86a6";
    public const string Feature2Id = "ef6f01dc-05a0-4ee4-a130-dc594053a66e";
    public const string Asset2Hash = "572aa31eadcb3d71ede151f4727ac6cc1385ddcd";
    public const string Feature3Id = "51ac0e3f-2fb3-497e-ae62-7d416122dc1b";
    public const string Asset3Hash = "994a343e3035b7bc721cddccb7159a33759192e5";
    public const string Feature4Id = "e26e7093-f476-437f-a688-5ebbcb27127e";
    public const string Asset4Hash = "b30a4e685ab239300954fb1442d921b6f77a4ac8";
    public const string Feature5Id = "bff3ab53-8eff-40d2-a848-32eecfbf4008";
    public const string Asset5Hash = "499ff319ade69516c0aa036b03a266044a2a3085";
    public const string Feature6Id = "df5c6f11-7fba-4cf7-a490-21330018eae6";
    public const string Asset6Hash = "776e10924e1dc6e6b697bdc7d855b8d48160592c";
    public const string Feature7Id = "a9042555-303f-4ae1-a4cf-ba873f86d881";
    public const string Asset7Hash = "d149c046878be14d8f7928764be354867026b2ea";
    public const string Feature8Id = "eb0e076e-3b58-42f7-acc1-cfc7c313f80f";
    public const string Asset8Hash = "d80b30b6a90609ad8a0366d19c3813c53f4d6083";
    public const string Feature9Id = "1b569cd7-e6f7-49eb-aba9-5f24276c10f1";
    public const string Asset9Hash = "fd94902c8c83f668d73ea498f09a2f8fe7a8cde9";
    public const string Feature10Id = "465813d3-d91d-499d-a044-1a4c04670f1d";
    public const string Asset10Hash = "6900adcca50bf1a098a857efccd4f7fdf661828f";
    public const string Feature11Id = "0cfec016-5947-45b0-a522-2e240e139821";
    public const string Asset11Hash = "90f2aba36526855b45a196fbe49f36364a4cd843";
    public const string Feature12Id = "3cdd0318-b89a-4775-a6b7-896dc58bdf31";
    public const string Asset12Hash = "9e10c4f39d2333a8f745f087eae069d6d4fc0dd2";
    public const string Feature13Id = "037a51b4-a440-42ff-a1df-36649572652a";
    public const string Asset13Hash = "5f444dd6186b4cc0e7f7bf71745cf26e0a2a6df2";
    public const string Feature14Id = "ec962ff9-c03b-4d25-afce-ba1cf68ab7bf";
    public const string Asset14Hash = "17e93ef2e2c44c8b3fc8f3d3442c316f6e87643e";
    public const string Feature15Id = "a33d933d-42ea-47fc-a43d-f6621240e250";
    public const string Asset15Hash = "759d7f04dc0746ab9021eab2546b1be263d8bcb4";
    public const string Feature16Id = "40f8cafd-a234-407a-a441-c255d6f19cc0";
    public const string Asset16Hash = "1f6e439eade476be9d86f37c4d3823e9deeaf369";
    public const string Feature17Id = "9ac7b779-e54a-448a-ae22-bd643c57c60c";
    public const string Asset17Hash = "0c0e32d00c1627b92af7b391dd72f9e38a8519ff";
    public const string Feature18Id = "065fea87-da37-47fd-a1ec-0f31598812c5";
    public const string Asset18Hash = "dee116264cd1b9e2a79b053da4901d119e3a3c02";
    public const string Feature19Id = "ebff5a3b-8ab0-4c0a-aa28-c149d7cc040d";
    public const string Asset19Hash = "0efeaf49924dfa3b0f5e85646b5da446e2308091";
}
