module "web" {
  source = "./modules/web"
  image  = "nginx"
  tag    = "1.25"
}
