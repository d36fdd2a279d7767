# role 0: arn:aws:iam::327855797956:role/ci-deployer-bmsovk  key id ANPAXYBMZZKYWHKFX43ZI
# role 1: arn:aws:iam::324304346950:role/ci-deployer-nkcdyj  key id ANPACOCENQBLYKY6XV4C4
# role 2: arn:aws:iam::976612406698:role/ci-deployer-zsvdcv  key id ANPACTYGDVZ3GS5V42XDS
# role 3: arn:aws:iam::739142017965:role/ci-deployer-kkvqfp  key id ANPA2BVNOJW6B5JRUZINR
# role 4: arn:aws:iam::206285336817:role/ci-deployer-vsoqtq  key id ANPADYIR766RFSDEZO4X4
# role 5: arn:aws:iam::209771547774:role/ci-deployer-ghsdoi  key id ANPAPXJAXSHW33ZNMLHOF
# role 6: arn:aws:iam::811779835494:role/ci-deployer-lxargi  key id ANPAXBK5KI6TKIIORZOBW
# role 7: arn:aws:iam::406512763278:role/ci-deployer-aynpgg  key id ANPAXFJK5WXIJPRURRPDA
# role 8: arn:aws:iam::700644727808:role/ci-deployer-qxekcq  key id ANPAKJBTGGNJAHKSSZRC6
# role 9: arn:aws:iam::512004547694:role/ci-deployer-avumpv  key id ANPAXQ3LBDX3VUSZI2FAT
# role 10: arn:aws:iam::589849531922:role/ci-deployer-wfdxka  key id ANPAUSUZ66MOAD4DA264G
# role 11: arn:aws:iam::658069438809:role/ci-deployer-hyuewc  key id ANPALJVLWVOZ2JG5S2K4I
# role 12: arn:aws:iam::141402562911:role/ci-deployer-yvwlzq  key id ANPA4VKFWPSSTTHZPM24F
# role 13: arn:aws:iam::723933814824:role/ci-deployer-rnmeql  key id ANPA7NHN7JEM7JGRUN6YS
# role 14: arn:aws:iam::104166630247:role/ci-deployer-yygnxj  key id ANPAGQAZNTJTD2W4DY3TH
# role 15: arn:aws:iam::958083032028:role/ci-deployer-dqfgzx  key id ANPAAJ3ODNOCIOPJZS4WL
# role 16: arn:aws:iam::151761849533:role/ci-deployer-ouhjkn  key id ANPAK24QEMGL6XEELWH3W
# role 17: arn:aws:iam::373562860639:role/ci-deployer-jcthly  key id ANPAK7IEWGXBNWE2HN54W
# role 18: arn:aws:iam::457586222968:role/ci-deployer-ifypnn  key id ANPAWUNKKJ5F2VXUCPYM7
# role 19: arn:aws:iam::570696300664:role/ci-deployer-akonev  key id ANPAGRVWIUSLDMYKHV4KS
output "bucket" {
  value = aws_s3_bucket.artifacts.arn
}
